package spec

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ErrQuantity is wrapped by every ParseMemory error.
var ErrQuantity = errors.New("invalid memory quantity")

// memoryUnits are the accepted suffixes: binary (Ki..Pi, as Kubernetes) and decimal
// (k/K..P, as Kubernetes and WfFormat), each optionally followed by B ("GiB", "GB").
var memoryUnits = map[string]float64{
	"": 1, "B": 1,
	"k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15,
	"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "Pi": 1 << 50,
}

// ParseMemory reads a memory quantity such as "512Mi", "2G", "1.5GiB" or "1048576"
// (bytes), rounding a fractional byte count up.
func ParseMemory(s string) (int64, error) {
	in := strings.TrimSpace(s)
	end := 0
	for end < len(in) && (in[end] >= '0' && in[end] <= '9' || in[end] == '.') {
		end++
	}
	num, unit := in[:end], strings.TrimSpace(in[end:])
	if num == "" {
		return 0, fmt.Errorf("%w %q: want a number with an optional unit (Ki, Mi, Gi, Ti, k, M, G, T)", ErrQuantity, s)
	}
	mult, ok := memoryUnits[unit]
	if !ok && strings.HasSuffix(unit, "B") {
		mult, ok = memoryUnits[strings.TrimSuffix(unit, "B")]
	}
	if !ok {
		return 0, fmt.Errorf("%w %q: unknown unit %q (use Ki, Mi, Gi, Ti, k, M, G, T)", ErrQuantity, s, unit)
	}
	x, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("%w %q: %v", ErrQuantity, s, errors.Unwrap(err))
	}
	b := math.Ceil(x * mult)
	if b > math.MaxInt64/2 {
		return 0, fmt.Errorf("%w %q: too large", ErrQuantity, s)
	}
	return int64(b), nil
}
