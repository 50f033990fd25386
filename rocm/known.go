package rocm

import "strings"

// KnownDevice is a device's published figures, to label a measurement
// (never to replace one).
type KnownDevice struct {
	Match        string  // a substring of the runtime's name or arch
	Label        string  // how to call it
	ComputeUnits int     // CUs or SMs
	PeakGBs      float64 // theoretical memory bandwidth
	MeasuredGBs  float64 // what users measured, 0 when unknown
	Source       string
}

// Known are the devices speclab can label.
var Known = []KnownDevice{
	{Match: "gfx1151", Label: "AMD Radeon 8060S (Strix Halo, Ryzen AI Max+ 395)", ComputeUnits: 40, PeakGBs: 256, MeasuredGBs: 212,
		Source: "AMD's specifications (LPDDR5X-8000, 256-bit); ~212 GB/s measured by users with rocm_bandwidth_test and llama.cpp's community benchmarks"},
	{Match: "H200", Label: "NVIDIA H200 (141 GB HBM3e)", ComputeUnits: 132, PeakGBs: 4800,
		Source: "NVIDIA H200 datasheet: 4.8 TB/s"},
	{Match: "H100", Label: "NVIDIA H100 SXM (80 GB HBM3)", ComputeUnits: 132, PeakGBs: 3350,
		Source: "NVIDIA H100 datasheet: 3.35 TB/s"},
	{Match: "gfx1100", Label: "AMD Radeon RX 7900 XTX", ComputeUnits: 96, PeakGBs: 960,
		Source: "AMD's specifications: 960 GB/s"},
}

// Lookup finds the known device whose Match is in name or arch.
func Lookup(name, arch string) (KnownDevice, bool) {
	for _, k := range Known {
		if strings.Contains(name, k.Match) || (arch != "" && strings.Contains(arch, k.Match)) {
			return k, true
		}
	}
	return KnownDevice{}, false
}
