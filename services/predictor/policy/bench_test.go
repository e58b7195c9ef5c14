package policy

import "testing"

// BenchmarkChooseUpdate measures one workflow's decision and learning step.
func BenchmarkChooseUpdate(b *testing.B) {
	p := New(DefaultActions(), Dim, DefaultConfig())
	x := Features{Tasks: 100, CriticalPathSeconds: 600, TotalWorkCoreSeconds: 6000, PeakWidth: 40, MeanCV: 0.3, HistorySamples: 50, Family: "montage"}.Vector()
	for b.Loop() {
		idx, _ := p.Choose(x)
		p.Update(x, idx, 0.1)
	}
}
