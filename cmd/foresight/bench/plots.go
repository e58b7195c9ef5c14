package bench

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/foresight-run/foresight/pkg/events"
)

var (
	colPlan   = color.RGBA{R: 160, G: 180, B: 220, A: 255}
	colActual = color.RGBA{R: 30, G: 80, B: 160, A: 255}
	colDemand = color.RGBA{R: 200, G: 40, B: 40, A: 255}
	tierColor = map[string]color.Color{
		events.TierHot:  color.RGBA{R: 230, G: 120, B: 20, A: 255},
		events.TierWarm: color.RGBA{R: 40, G: 150, B: 60, A: 255},
		events.TierCold: color.RGBA{R: 60, G: 100, B: 200, A: 255},
	}
)

// bar is one horizontal span drawn at row y.
type bar struct {
	x0, x1, y float64
}

// bars draws horizontal spans of a given thickness: the Gantt chart's tasks.
type bars struct {
	spans     []bar
	thickness vg.Length
	color     color.Color
}

// Plot implements plot.Plotter.
func (b *bars) Plot(c draw.Canvas, plt *plot.Plot) {
	tx, ty := plt.Transforms(&c)
	c.SetColor(b.color)
	for _, s := range b.spans {
		x0, x1, y := tx(s.x0), tx(s.x1), ty(s.y)
		if x1-x0 < 0.5 {
			x1 = x0 + 0.5
		}
		h := b.thickness / 2
		pts := []vg.Point{{X: x0, Y: y - h}, {X: x1, Y: y - h}, {X: x1, Y: y + h}, {X: x0, Y: y + h}}
		c.FillPolygon(b.color, c.ClipPolygonXY(pts))
	}
}

// DataRange implements plot.DataRanger.
func (b *bars) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, ymin = math.Inf(1), math.Inf(1)
	xmax, ymax = math.Inf(-1), math.Inf(-1)
	for _, s := range b.spans {
		xmin, xmax = min(xmin, s.x0), max(xmax, s.x1)
		ymin, ymax = min(ymin, s.y-0.5), max(ymax, s.y+0.5)
	}
	return
}

// Thumbnail implements plot.Thumbnailer for the legend.
func (b *bars) Thumbnail(c *draw.Canvas) {
	pts := []vg.Point{{X: c.Min.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Max.Y}, {X: c.Min.X, Y: c.Max.Y}}
	c.FillPolygon(b.color, pts)
}

// save writes p as PNG and SVG.
func save(p *plot.Plot, dir, name string, w, h vg.Length) ([]string, error) {
	var out []string
	for _, ext := range []string{"png", "svg"} {
		f := name + "." + ext
		if err := p.Save(w, h, filepath.Join(dir, f)); err != nil {
			return nil, fmt.Errorf("save %s: %w", f, err)
		}
		out = append(out, f)
	}
	return out, nil
}

// plotGantt draws plan versus actual for one planned execution, one row per VM: the light
// bar is where and when the first plan put the task, the dark bar where and when it really
// ran (re-plans may move it). Plan VMs never launched get rows of their own at the top.
func plotGantt(ex *execution, tr *Trace, title string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "seconds since submission"
	p.Y.Label.Text = "VM"
	plan := &bars{thickness: vg.Points(5), color: colPlan}
	act := &bars{thickness: vg.Points(2.5), color: colActual}
	extra := map[int]int{}
	row := func(pv int) float64 {
		if pv < len(ex.planSimOf) && ex.planSimOf[pv] >= 0 {
			return float64(ex.planSimOf[pv])
		}
		r, ok := extra[pv]
		if !ok {
			r = len(ex.sim.vms) + len(extra)
			extra[pv] = r
		}
		return float64(r)
	}
	for i := range tr.Tasks {
		plan.spans = append(plan.spans, bar{ex.plan.start[i], ex.plan.finish[i], row(ex.plan.vmOf[i]) + 0.2})
		act.spans = append(act.spans, bar{ex.sim.start[i], ex.sim.finish[i], float64(ex.sim.vmOf[i]) - 0.2})
	}
	p.Add(plan, act)
	p.Legend.Add("first plan", plan)
	p.Legend.Add("actual", act)
	p.Legend.Top = true
	return p
}

// stepSeries turns +/- deltas at instants into a step function's XY points.
func stepSeries(deltas map[float64]float64, end float64) plotter.XYs {
	ts := make([]float64, 0, len(deltas))
	for t := range deltas {
		ts = append(ts, t)
	}
	sort.Float64s(ts)
	var pts plotter.XYs
	level := 0.0
	pts = append(pts, plotter.XY{X: 0, Y: 0})
	for _, t := range ts {
		pts = append(pts, plotter.XY{X: t, Y: level})
		level += deltas[t]
		pts = append(pts, plotter.XY{X: t, Y: level})
	}
	pts = append(pts, plotter.XY{X: end, Y: level})
	return pts
}

// plotCapacity draws the cores tasks used against the cores of ready VMs, by the tier
// each VM came from.
func plotCapacity(ex *execution, tr *Trace, title string) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "seconds since submission"
	p.Y.Label.Text = "cores"
	end := 0.0
	for _, v := range ex.sim.vms {
		end = max(end, v.releaseAt)
	}
	demand := map[float64]float64{}
	for i, t := range tr.Tasks {
		demand[ex.sim.start[i]] += t.CPU
		demand[ex.sim.finish[i]] -= t.CPU
	}
	for _, tier := range []string{events.TierHot, events.TierWarm, events.TierCold} {
		d := map[float64]float64{}
		for _, v := range ex.sim.vms {
			if v.tier != tier || v.cancelled {
				continue
			}
			from := v.readyAt
			if !math.IsNaN(v.hotFrom) {
				from = min(from, v.hotFrom)
			}
			d[from] += v.typ.Cores
			d[v.releaseAt] -= v.typ.Cores
		}
		if len(d) == 0 {
			continue
		}
		l, err := plotter.NewLine(stepSeries(d, end))
		if err != nil {
			return nil, fmt.Errorf("capacity line: %w", err)
		}
		l.Color = tierColor[tier]
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add("provisioned "+tier, l)
	}
	l, err := plotter.NewLine(stepSeries(demand, end))
	if err != nil {
		return nil, fmt.Errorf("demand line: %w", err)
	}
	l.Color = colDemand
	l.Width = vg.Points(1)
	l.Dashes = []vg.Length{vg.Points(3), vg.Points(2)}
	p.Add(l)
	p.Legend.Add("demand (running tasks)", l)
	p.Legend.Top = true
	return p, nil
}

// plotPolicies draws each policy's geometric-mean makespan and cost over their lower bounds.
func plotPolicies(s []PolicySummary) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Makespan and cost per policy (geometric mean over traces, ÷ lower bound)"
	p.Y.Label.Text = "× lower bound"
	var mk, co plotter.Values
	var names []string
	for _, ps := range s {
		mk = append(mk, ps.MakespanOverLowerBound)
		co = append(co, ps.CostOverLowerBound)
		names = append(names, ps.Policy)
	}
	w := vg.Points(18)
	bm, err := plotter.NewBarChart(mk, w)
	if err != nil {
		return nil, fmt.Errorf("bars: %w", err)
	}
	bm.Color = colActual
	bm.Offset = -w / 2
	bc, err := plotter.NewBarChart(co, w)
	if err != nil {
		return nil, fmt.Errorf("bars: %w", err)
	}
	bc.Color = tierColor[events.TierHot]
	bc.Offset = w / 2
	p.Add(bm, bc)
	p.Legend.Add("makespan", bm)
	p.Legend.Add("cost", bc)
	p.Legend.Top = true
	p.NominalX(names...)
	return p, nil
}

// plotLearning draws the policy's cumulative regret against the best fixed action.
func plotLearning(lc *LearningCurve) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("LinUCB knob policy: cumulative regret vs best fixed action (%s)", lc.BestFixedAction)
	p.X.Label.Text = "workflow"
	p.Y.Label.Text = "cumulative regret (objective units)"
	var reg, perFam plotter.XYs
	cumFam := 0.0
	for _, pt := range lc.Points {
		reg = append(reg, plotter.XY{X: float64(pt.Index + 1), Y: pt.CumulativeRegret})
		cumFam += pt.Objective - pt.BestForFamily
		perFam = append(perFam, plotter.XY{X: float64(pt.Index + 1), Y: cumFam})
	}
	l, err := plotter.NewLine(reg)
	if err != nil {
		return nil, fmt.Errorf("regret line: %w", err)
	}
	l.Color = colActual
	l.Width = vg.Points(1.5)
	lf, err := plotter.NewLine(perFam)
	if err != nil {
		return nil, fmt.Errorf("regret line: %w", err)
	}
	lf.Color = tierColor[events.TierHot]
	lf.Dashes = []vg.Length{vg.Points(3), vg.Points(2)}
	p.Add(l, lf, plotter.NewGrid())
	p.Legend.Add("vs best fixed action", l)
	p.Legend.Add("vs best action per family", lf)
	p.Legend.Top = true
	p.Legend.Left = true
	return p, nil
}
