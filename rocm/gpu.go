package rocm

import (
	"errors"
	"fmt"
	"strings"
)

// Device is one GPU as its runtime reports it.
type Device struct {
	Index   int    `json:"index"`
	Runtime string `json:"runtime"` // "hip" or "cuda"
	Name    string `json:"name"`
	// Arch is the gfx target of an AMD device (gfx1151), the compute
	// capability of an NVIDIA one (sm_90).
	Arch         string `json:"arch"`
	ComputeUnits int    `json:"compute_units"` // CUs (AMD) or SMs (NVIDIA)
	ClockMHz     int    `json:"clock_mhz"`     // 0 when the runtime does not say
	MemClockMHz  int    `json:"mem_clock_mhz"`
	BusWidthBits int    `json:"bus_width_bits"`
	TotalBytes   uint64 `json:"total_bytes"`
	FreeBytes    uint64 `json:"free_bytes"`
	// Integrated: the GPU shares the host's memory (an APU such as Strix
	// Halo); its bandwidth is the host's.
	Integrated bool `json:"integrated"`
	// AMD's memory split where sysfs has it: the VRAM carve-out and the GTT
	// (host memory the GPU may map).
	VRAMBytes uint64 `json:"vram_bytes,omitempty"`
	GTTBytes  uint64 `json:"gtt_bytes,omitempty"`
}

// TheoreticalGBs is the peak bandwidth from the memory clock and bus width
// (DDR: two transfers a clock), 0 when either is unknown.
func (d Device) TheoreticalGBs() float64 {
	if d.MemClockMHz <= 0 || d.BusWidthBits <= 0 {
		return 0
	}
	return 2 * float64(d.MemClockMHz) * 1e6 * float64(d.BusWidthBits) / 8 / 1e9
}

// GPU is a GPU runtime: its devices and a bandwidth probe.
type GPU interface {
	Devices() ([]Device, error)
	// Bandwidth times device-to-device copies of bytes on device dev,
	// best of reps, and returns GB/s counting the read and the write.
	Bandwidth(dev int, bytes uint64, reps int) (float64, error)
	Close() error
}

// ErrNoDevice: the runtime loaded but reports no device.
var ErrNoDevice = errors.New("no device")

// ErrNoRuntime: the runtime's library is not installed.
var ErrNoRuntime = errors.New("runtime library not found")

// Probe opens the HIP and the CUDA runtimes and lists their devices; the
// error of each runtime that has none is returned beside (ErrNoRuntime,
// ErrNoDevice, or what failed).
func Probe() ([]Device, map[string]error) {
	var all []Device
	errs := map[string]error{}
	for name, open := range map[string]func(string) (GPU, error){"hip": OpenHIP, "cuda": OpenCUDA} {
		g, err := open("")
		if err != nil {
			errs[name] = err
			continue
		}
		ds, err := g.Devices()
		g.Close()
		if err != nil {
			errs[name] = err
			continue
		}
		all = append(all, ds...)
	}
	return all, errs
}

// runtimeError is a runtime call that returned an error code.
type runtimeError struct {
	runtime, call string
	code          int32
	text          string
}

func (e *runtimeError) Error() string {
	return fmt.Sprintf("%s: %s: error %d (%s)", e.runtime, e.call, e.code, e.text)
}

func (e *runtimeError) Is(target error) bool {
	return target == ErrNoDevice && (strings.Contains(e.text, "NoDevice") || strings.Contains(e.text, "no CUDA-capable device"))
}

// cString is the NUL-terminated string at the start of b.
func cString(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
