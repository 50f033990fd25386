package rocm

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"github.com/ebitengine/purego"
)

// runtime is the HIP or the CUDA runtime: HIP copies CUDA's runtime API
// call for call, so one binding serves both, the calls' prefix aside.
type runtime struct {
	name string // "hip" or "cuda"
	lib  uintptr
	path string

	getDeviceCount  func(*int32) int32
	setDevice       func(int32) int32
	memGetInfo      func(*uint64, *uint64) int32
	malloc          func(*uintptr, uint64) int32
	free            func(uintptr) int32
	memcpy          func(uintptr, uintptr, uint64, int32) int32
	deviceSync      func() int32
	eventCreate     func(*uintptr) int32
	eventRecord     func(uintptr, uintptr) int32
	eventSync       func(uintptr) int32
	eventElapsed    func(*float32, uintptr, uintptr) int32
	eventDestroy    func(uintptr) int32
	errorString     func(int32) string
	runtimeVersion  func(*int32) int32
	getProperties   func(unsafe.Pointer, int32) int32 // the struct's layout varies: only its name, at offset 0, is read
	deviceAttribute func(*int32, int32, int32) int32  // nil for HIP (its enum moved between ROCm releases)
}

// memcpyDeviceToDevice is hipMemcpyDeviceToDevice and
// cudaMemcpyDeviceToDevice.
const memcpyDeviceToDevice = 3

// propsBufBytes holds the properties struct of any release (about 1.5 KB
// today).
const propsBufBytes = 16 << 10

// libraries are the file names tried for each runtime, newest first.
var libraries = map[string][]string{
	"hip":  {"libamdhip64.so", "libamdhip64.so.7", "libamdhip64.so.6", "libamdhip64.so.5"},
	"cuda": {"libcudart.so", "libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0"},
}

// install says what to install when a runtime is missing.
var install = map[string]string{
	"hip":  "install ROCm's HIP runtime (Debian and Ubuntu: apt install libamdhip64-5; ROCm 6: rocm-hip-runtime) or pass its folder",
	"cuda": "install the CUDA runtime (libcudart, e.g. the cuda-cudart package or pip's nvidia-cuda-runtime) or pass its folder",
}

// OpenHIP loads AMD's HIP runtime (libamdhip64.so) from dir, or from the
// loader's search path when dir is "".
func OpenHIP(dir string) (GPU, error) { return open("hip", dir) }

// OpenCUDA loads NVIDIA's CUDA runtime (libcudart.so) from dir, or from
// the loader's search path when dir is "".
func OpenCUDA(dir string) (GPU, error) { return open("cuda", dir) }

func open(name, dir string) (GPU, error) {
	var lib uintptr
	var path string
	var errs []string
	for _, file := range libraries[name] {
		p := file
		if dir != "" {
			p = filepath.Join(dir, file)
			if _, err := os.Stat(p); err != nil {
				continue
			}
		}
		h, err := purego.Dlopen(p, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err == nil {
			lib, path = h, p
			break
		}
		errs = append(errs, err.Error())
	}
	if lib == 0 {
		where := "the loader's search path"
		if dir != "" {
			where = dir
		}
		detail := ""
		if len(errs) > 0 && !strings.Contains(errs[0], "No such file") && !strings.Contains(errs[0], "cannot open shared object") {
			detail = " (" + errs[0] + ")"
		}
		return nil, fmt.Errorf("%s: %s not in %s%s: %s: %w", name, libraries[name][0], where, detail, install[name], ErrNoRuntime)
	}
	r := &runtime{name: name, lib: lib, path: path}
	if err := r.bind(); err != nil {
		purego.Dlclose(lib)
		return nil, fmt.Errorf("%s: %s: %w", name, path, err)
	}
	return r, nil
}

func (r *runtime) bind() (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("missing function: %v", p)
		}
	}()
	fn := func(ptr any, call string) { purego.RegisterLibFunc(ptr, r.lib, r.name+call) }
	fn(&r.getDeviceCount, "GetDeviceCount")
	fn(&r.setDevice, "SetDevice")
	fn(&r.memGetInfo, "MemGetInfo")
	fn(&r.malloc, "Malloc")
	fn(&r.free, "Free")
	fn(&r.memcpy, "Memcpy")
	fn(&r.deviceSync, "DeviceSynchronize")
	fn(&r.eventCreate, "EventCreate")
	fn(&r.eventRecord, "EventRecord")
	fn(&r.eventSync, "EventSynchronize")
	fn(&r.eventElapsed, "EventElapsedTime")
	fn(&r.eventDestroy, "EventDestroy")
	fn(&r.errorString, "GetErrorString")
	fn(&r.runtimeVersion, "RuntimeGetVersion")
	// The properties call was renamed when its struct grew: CUDA 12's
	// _v2, ROCm 6's R0600; the name stays first in every version.
	for _, call := range []string{"GetDevicePropertiesR0600", "GetDeviceProperties_v2", "GetDeviceProperties"} {
		if _, e := purego.Dlsym(r.lib, r.name+call); e == nil {
			fn(&r.getProperties, call)
			break
		}
	}
	if r.name == "cuda" {
		fn(&r.deviceAttribute, "DeviceGetAttribute")
	}
	return nil
}

func (r *runtime) check(call string, code int32) error {
	if code == 0 {
		return nil
	}
	return &runtimeError{runtime: r.name, call: r.name + call, code: code, text: r.errorString(code)}
}

// Version is the runtime's version number (HIP: major·10⁷ + minor·10⁵ +
// patch; CUDA: major·1000 + minor·10).
func (r *runtime) Version() int {
	var v int32
	r.runtimeVersion(&v)
	return int(v)
}

// CUDA's device attributes (cudaDeviceAttr; stable since CUDA 5).
const (
	cudaAttrClockRate       = 13 // kHz
	cudaAttrMultiProcessors = 16
	cudaAttrIntegrated      = 18
	cudaAttrMemoryClockRate = 36 // kHz
	cudaAttrBusWidth        = 37
	cudaAttrCCMajor         = 75
	cudaAttrCCMinor         = 76
)

func (r *runtime) Devices() ([]Device, error) {
	var n int32
	if err := r.check("GetDeviceCount", r.getDeviceCount(&n)); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("%s: %w", r.name, ErrNoDevice)
	}
	var out []Device
	for i := range n {
		d := Device{Index: int(i), Runtime: r.name}
		if err := r.check("SetDevice", r.setDevice(i)); err != nil {
			return nil, err
		}
		if r.getProperties != nil {
			buf := make([]byte, propsBufBytes)
			if r.getProperties(unsafe.Pointer(&buf[0]), i) == 0 {
				d.Name = cString(buf[:256])
			}
		}
		var free, total uint64
		if err := r.check("MemGetInfo", r.memGetInfo(&free, &total)); err != nil {
			return nil, err
		}
		d.FreeBytes, d.TotalBytes = free, total
		if r.deviceAttribute != nil {
			attr := func(a int32) int {
				var v int32
				if r.deviceAttribute(&v, a, i) != 0 {
					return 0
				}
				return int(v)
			}
			d.ComputeUnits = attr(cudaAttrMultiProcessors)
			d.ClockMHz = attr(cudaAttrClockRate) / 1000
			d.MemClockMHz = attr(cudaAttrMemoryClockRate) / 1000
			d.BusWidthBits = attr(cudaAttrBusWidth)
			d.Integrated = attr(cudaAttrIntegrated) != 0
			d.Arch = fmt.Sprintf("sm_%d%d", attr(cudaAttrCCMajor), attr(cudaAttrCCMinor))
		} else {
			amdSysfs(&d, int(i))
		}
		out = append(out, d)
	}
	return out, nil
}

func (r *runtime) Bandwidth(dev int, bytes uint64, reps int) (float64, error) {
	if err := r.check("SetDevice", r.setDevice(int32(dev))); err != nil {
		return 0, err
	}
	var src, dst uintptr
	if err := r.check("Malloc", r.malloc(&src, bytes)); err != nil {
		return 0, err
	}
	defer r.free(src)
	if err := r.check("Malloc", r.malloc(&dst, bytes)); err != nil {
		return 0, err
	}
	defer r.free(dst)
	var start, stop uintptr
	if err := r.check("EventCreate", r.eventCreate(&start)); err != nil {
		return 0, err
	}
	defer r.eventDestroy(start)
	if err := r.check("EventCreate", r.eventCreate(&stop)); err != nil {
		return 0, err
	}
	defer r.eventDestroy(stop)
	// one copy untimed: the first touches the pages
	if err := r.check("Memcpy", r.memcpy(dst, src, bytes, memcpyDeviceToDevice)); err != nil {
		return 0, err
	}
	r.deviceSync()
	best := math.Inf(1)
	for range max(reps, 1) {
		r.eventRecord(start, 0)
		if err := r.check("Memcpy", r.memcpy(dst, src, bytes, memcpyDeviceToDevice)); err != nil {
			return 0, err
		}
		r.eventRecord(stop, 0)
		if err := r.check("EventSynchronize", r.eventSync(stop)); err != nil {
			return 0, err
		}
		var ms float32
		if err := r.check("EventElapsedTime", r.eventElapsed(&ms, start, stop)); err != nil {
			return 0, err
		}
		best = min(best, float64(ms))
	}
	return 2 * float64(bytes) / (best / 1e3) / 1e9, nil
}

func (r *runtime) Close() error { return purego.Dlclose(r.lib) }
