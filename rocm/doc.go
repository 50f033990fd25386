// Package rocm will own the GPU side of the hardware picture: the HIP runtime
// through purego (devices, memory, measured bandwidth) and the roofline
// ceilings that say how fast a model can decode on a device.
//
// It must not drive llama.cpp (package engine does).
//
// Not written yet.
package rocm
