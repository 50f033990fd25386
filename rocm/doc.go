// Package rocm owns the hardware side of the picture: what the GPUs (AMD's
// through the HIP runtime, NVIDIA's through the CUDA runtime, both bound
// with purego, no cgo) and the CPU are, how much memory bandwidth they
// measurably deliver, and the roofline arithmetic that turns a model's
// bytes per token and a bandwidth into the decoding ceiling speculation
// works against.
//
// A GPU is reached through the small GPU interface (Devices, Bandwidth,
// Close), opened by OpenHIP or OpenCUDA; CPUBandwidth measures the host.
// For AMD devices it also reads the amdgpu and KFD sysfs facts an APU
// owner cares about (VRAM carve-out against GTT, the gfx target), and the
// Known table labels devices with published figures, never in place of a
// measurement.
//
// It must not drive llama.cpp (package engine does) nor read run folders
// (package analysis does).
package rocm
