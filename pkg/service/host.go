package service

import (
	"runtime"
	"syscall"
)

// Host returns the cores and memory of this machine that the local provider may slice
// into VMs: FORESIGHT_LOCAL_CORES (else every core) and the machine's RAM.
func Host(cfg Config) (cores float64, memoryBytes int64) {
	cores = float64(runtime.NumCPU())
	if cfg.LocalCores > 0 {
		cores = cfg.LocalCores
	}
	memoryBytes = 4 << 30
	var si syscall.Sysinfo_t
	if err := syscall.Sysinfo(&si); err == nil {
		memoryBytes = int64(si.Totalram) * int64(si.Unit)
	}
	return cores, memoryBytes
}
