package catalog

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"go.yaml.in/yaml/v3"
)

// GiB is 2^30 bytes, the unit cloud providers quote memory in.
const GiB = int64(1) << 30

// secondsPerHour converts hourly list prices to the per-second rate EC2 bills.
const secondsPerHour = 3600

// secondsPerStorageMonth is the month EBS prorates a GB-month over: AWS's EBS pricing
// examples divide by a 30-day month (86,400 s × 30).
const secondsPerStorageMonth = 86400 * 30

// ErrInvalid marks a catalog that fails validation; the wrapped message names the field.
var ErrInvalid = errors.New("invalid catalog")

// InstanceType is one machine shape with its price and the latency of each tier.
type InstanceType struct {
	Name        string
	Cores       float64
	MemoryBytes int64
	// PricePerSecond is the on-demand price in USD per running second.
	PricePerSecond float64
	// WarmCostPerSecond is what a stopped (warm) standby costs per second: its root volume's
	// storage only, since a stopped instance is not billed for compute.
	WarmCostPerSecond float64
	// Hot, Warm and Cold are the latencies of getting a running VM of this type from an idle
	// running one, a stopped one, and a fresh launch.
	Hot, Warm, Cold Latency
}

// Quotas are the account's limits on VMs that are pending or running; as with EC2's
// On-Demand vCPU limits, stopped (warm) standbys do not count until started again.
type Quotas struct {
	MaxVMs   int
	MaxCores float64
}

// Catalog is the set of instance types a provider offers, how it bills and its quotas.
type Catalog struct {
	Types []InstanceType
	// MinimumBillSeconds is charged on every start of a VM (launch or start from stopped) even
	// if it runs less; after it, billing is per second.
	MinimumBillSeconds float64
	Quotas             Quotas
}

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML returns the embedded default catalog file, for tools that print or copy it.
func DefaultYAML() []byte { return bytes.Clone(defaultYAML) }

// Default returns the embedded default catalog. It panics only if the embedded file is
// broken, which the package's tests rule out.
func Default() Catalog {
	c, err := Parse(defaultYAML)
	if err != nil {
		panic(fmt.Sprintf("catalog: embedded default.yaml: %v", err))
	}
	return c
}

// Load reads and validates a catalog file.
func Load(path string) (Catalog, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Catalog{}, fmt.Errorf("load catalog %s: %w", path, err)
	}
	c, err := Parse(data)
	if err != nil {
		return Catalog{}, fmt.Errorf("load catalog %s: %w", path, err)
	}
	return c, nil
}

// fileLatencies is the per-tier latency block of the file; a nil tier inherits the default.
type fileLatencies struct {
	Hot  *Latency `yaml:"hot"`
	Warm *Latency `yaml:"warm"`
	Cold *Latency `yaml:"cold"`
}

type fileType struct {
	Name         string        `yaml:"name"`
	VCPUs        float64       `yaml:"vcpus"`
	MemoryGiB    float64       `yaml:"memory_gib"`
	PricePerHour float64       `yaml:"price_per_hour"`
	RootVolume   *float64      `yaml:"root_volume_gib"`
	Latency      fileLatencies `yaml:"latency"`
}

type fileCatalog struct {
	Billing struct {
		MinimumSeconds *float64 `yaml:"minimum_seconds"`
	} `yaml:"billing"`
	Storage struct {
		RootVolumeGiB    float64 `yaml:"root_volume_gib"`
		PricePerGiBMonth float64 `yaml:"price_per_gib_month"`
	} `yaml:"storage"`
	Latency fileLatencies `yaml:"latency"`
	Quotas  struct {
		MaxVMs   int     `yaml:"max_vms"`
		MaxVCPUs float64 `yaml:"max_vcpus"`
	} `yaml:"quotas"`
	Types []fileType `yaml:"types"`
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// Parse decodes and validates a catalog in the YAML format of default.yaml. Unknown fields
// are rejected so a typo cannot silently fall back to a default; errors name the field.
func Parse(data []byte) (Catalog, error) {
	var f fileCatalog
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return Catalog{}, invalid("empty document")
		}
		return Catalog{}, fmt.Errorf("%w: decode yaml: %w", ErrInvalid, err)
	}

	var c Catalog
	if f.Billing.MinimumSeconds == nil {
		return Catalog{}, invalid("billing.minimum_seconds: required")
	}
	if m := *f.Billing.MinimumSeconds; !finite(m) || m < 0 {
		return Catalog{}, invalid("billing.minimum_seconds: must be a finite number >= 0, got %v", m)
	}
	c.MinimumBillSeconds = *f.Billing.MinimumSeconds

	if v := f.Storage.RootVolumeGiB; !finite(v) || v < 0 {
		return Catalog{}, invalid("storage.root_volume_gib: must be >= 0, got %v", v)
	}
	if v := f.Storage.PricePerGiBMonth; !finite(v) || v < 0 {
		return Catalog{}, invalid("storage.price_per_gib_month: must be >= 0, got %v", v)
	}

	if f.Quotas.MaxVMs <= 0 {
		return Catalog{}, invalid("quotas.max_vms: must be > 0, got %d", f.Quotas.MaxVMs)
	}
	if v := f.Quotas.MaxVCPUs; !finite(v) || v <= 0 {
		return Catalog{}, invalid("quotas.max_vcpus: must be > 0, got %v", v)
	}
	c.Quotas = Quotas{MaxVMs: f.Quotas.MaxVMs, MaxCores: f.Quotas.MaxVCPUs}

	if len(f.Types) == 0 {
		return Catalog{}, invalid("types: at least one instance type required")
	}
	seen := make(map[string]bool, len(f.Types))
	for i, ft := range f.Types {
		field := fmt.Sprintf("types[%d]", i)
		if ft.Name == "" {
			return Catalog{}, invalid("%s.name: required", field)
		}
		field = fmt.Sprintf("types[%d] (%s)", i, ft.Name)
		if seen[ft.Name] {
			return Catalog{}, invalid("%s.name: duplicate", field)
		}
		seen[ft.Name] = true
		if !finite(ft.VCPUs) || ft.VCPUs <= 0 {
			return Catalog{}, invalid("%s.vcpus: must be > 0, got %v", field, ft.VCPUs)
		}
		if !finite(ft.MemoryGiB) || ft.MemoryGiB <= 0 {
			return Catalog{}, invalid("%s.memory_gib: must be > 0, got %v", field, ft.MemoryGiB)
		}
		if !finite(ft.PricePerHour) || ft.PricePerHour <= 0 {
			return Catalog{}, invalid("%s.price_per_hour: must be > 0, got %v", field, ft.PricePerHour)
		}
		root := f.Storage.RootVolumeGiB
		if ft.RootVolume != nil {
			root = *ft.RootVolume
			if !finite(root) || root < 0 {
				return Catalog{}, invalid("%s.root_volume_gib: must be >= 0, got %v", field, root)
			}
		}
		it := InstanceType{
			Name:              ft.Name,
			Cores:             ft.VCPUs,
			MemoryBytes:       int64(math.Round(ft.MemoryGiB * float64(GiB))),
			PricePerSecond:    ft.PricePerHour / secondsPerHour,
			WarmCostPerSecond: root * f.Storage.PricePerGiBMonth / secondsPerStorageMonth,
		}
		tiers := []struct {
			name          string
			own, fallback *Latency
			dst           *Latency
		}{
			{"hot", ft.Latency.Hot, f.Latency.Hot, &it.Hot},
			{"warm", ft.Latency.Warm, f.Latency.Warm, &it.Warm},
			{"cold", ft.Latency.Cold, f.Latency.Cold, &it.Cold},
		}
		for _, tier := range tiers {
			l, where := tier.own, field+".latency."+tier.name
			if l == nil {
				l, where = tier.fallback, "latency."+tier.name
			}
			if l == nil {
				return Catalog{}, invalid("%s.latency.%s: required (no default in latency.%s)", field, tier.name, tier.name)
			}
			if err := l.validate(); err != nil {
				return Catalog{}, invalid("%s.%v", where, err)
			}
			*tier.dst = *l
		}
		c.Types = append(c.Types, it)
	}
	return c, nil
}

// Type returns the instance type with the given name.
func (c Catalog) Type(name string) (InstanceType, bool) {
	for _, t := range c.Types {
		if t.Name == name {
			return t, true
		}
	}
	return InstanceType{}, false
}

// Largest returns the type with the most cores (then most memory, then the cheapest): the
// shape to fall back on when a task's request fits nothing smaller. Zero for an empty catalog.
func (c Catalog) Largest() InstanceType {
	var best InstanceType
	for i, t := range c.Types {
		if i == 0 || t.Cores > best.Cores ||
			(t.Cores == best.Cores && (t.MemoryBytes > best.MemoryBytes ||
				(t.MemoryBytes == best.MemoryBytes && t.PricePerSecond < best.PricePerSecond))) {
			best = t
		}
	}
	return best
}

// CheapestFit returns the cheapest type per second with at least cores and mem; ties go to
// the smaller machine, then the name, so the choice is deterministic.
func (c Catalog) CheapestFit(cores float64, mem int64) (InstanceType, bool) {
	var best InstanceType
	found := false
	for _, t := range c.Types {
		if t.Cores < cores || t.MemoryBytes < mem {
			continue
		}
		if !found || t.PricePerSecond < best.PricePerSecond ||
			(t.PricePerSecond == best.PricePerSecond && (t.Cores < best.Cores ||
				(t.Cores == best.Cores && t.Name < best.Name))) {
			best, found = t, true
		}
	}
	return best, found
}

// BilledCost is what one run of a VM — from a launch or a start until its stop or
// termination — is billed: per second, but never less than MinimumBillSeconds, because EC2
// charges a minimum of 60 s each time an instance enters the running state. A negative
// runSeconds counts as zero.
func (c Catalog) BilledCost(t InstanceType, runSeconds float64) float64 {
	return math.Max(math.Max(runSeconds, 0), c.MinimumBillSeconds) * t.PricePerSecond
}
