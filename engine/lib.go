package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ebitengine/purego"

	"github.com/speclab/speclab/engine/llamalib"
)

// Errors a caller can test with errors.Is.
var (
	// ErrWrongLibrary: the file is not a loadable libllama (not a shared
	// object, wrong architecture, missing symbols).
	ErrWrongLibrary = errors.New("not a usable libllama")
	// ErrUnknownBuild: a libllama whose struct layouts speclab does not know.
	ErrUnknownBuild = errors.New("unknown libllama build")
	// ErrOtherLibLoaded: the process already holds a different libllama.
	ErrOtherLibLoaded = errors.New("another libllama is already loaded in this process")
)

// EnvAllowUnknown, when set to 1, has the same effect as
// LibOptions.AllowUnknownBuild.
const EnvAllowUnknown = "SPECLAB_ALLOW_UNKNOWN_LLAMA"

// LibOptions says which libllama to load and how.
type LibOptions struct {
	// Path is a libllama shared object or the folder holding one, as given
	// by --llama-lib. Empty: $SPECLAB_LLAMA_LIB, then the runtime installed
	// by `speclab setup` (see package llamalib).
	Path string
	// CacheDir is where `speclab setup` installs runtimes; empty means the
	// default (llamalib.DefaultCacheDir).
	CacheDir string
	// AllowUnknownBuild loads a libllama whose version speclab does not
	// know, trusting that its struct layouts equal the pinned build's. The
	// default-parameter fingerprint is still checked.
	AllowUnknownBuild bool
}

// Lib is a loaded libllama with its ggml backends. There is at most one per
// process: libllama and ggml keep global state.
type Lib struct {
	Location     llamalib.Location
	Version      string // llama_version()
	GGMLVersion  string // ggml_version()
	KnownBuild   string // where the pinned build comes from; empty if unknown
	handle       uintptr
	c            api
	modelDefault cModelParams
	ctxDefault   cContextParams
}

var (
	libMu     sync.Mutex
	loadedLib *Lib
)

// Open finds, loads and checks libllama, then loads the ggml backends from
// its folder. Calling Open again with the same library returns the same
// *Lib; asking for a different one fails with ErrOtherLibLoaded.
func Open(opt LibOptions) (*Lib, error) {
	loc, err := llamalib.Locate(opt.Path, opt.CacheDir)
	if err != nil {
		return nil, err
	}
	libMu.Lock()
	defer libMu.Unlock()
	if loadedLib != nil && sameFile(loadedLib.Location.Lib, loc.Lib) {
		return loadedLib, nil
	}
	allow := opt.AllowUnknownBuild || os.Getenv(EnvAllowUnknown) == "1"
	l, err := check(loc, allow)
	if err != nil {
		return nil, err
	}
	if loadedLib != nil {
		return nil, fmt.Errorf("load %s: %w (%s); run a separate process per library", loc.Lib, ErrOtherLibLoaded, loadedLib.Location.Lib)
	}
	if err := l.start(); err != nil {
		return nil, err
	}
	loadedLib = l
	return l, nil
}

// check opens the library and runs the ABI guard without starting it, so
// that a wrong library is reported as such even when another one is loaded.
func check(loc llamalib.Location, allowUnknown bool) (*Lib, error) {
	if err := checkELF(loc.Lib); err != nil {
		return nil, fmt.Errorf("load %s (from %s): %w", loc.Lib, loc.Source, err)
	}
	h, err := purego.Dlopen(loc.Lib, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return nil, fmt.Errorf("load %s (from %s): %v: %w", loc.Lib, loc.Source, err, ErrWrongLibrary)
	}
	l := &Lib{Location: loc, handle: h}
	if !hasSymbol(h, "llama_version") {
		return nil, fmt.Errorf("load %s: it exports no llama_version, so its build cannot be identified (a llama.cpp older than speclab supports, or not libllama at all): %w", loc.Lib, ErrUnknownBuild)
	}
	var version func() string
	purego.RegisterLibFunc(&version, h, "llama_version")
	l.Version = version()
	build, known := identify(h, l.Version)
	if !known && !allowUnknown {
		return nil, fmt.Errorf("load %s: llama_version %q: %w: speclab knows the C struct layouts of %s only; "+
			"driving another build could corrupt memory. Use the pinned runtime (`speclab setup`), or, if you "+
			"are sure this build has the same llama.h, pass --allow-unknown-llama (or %s=1)",
			loc.Lib, l.Version, ErrUnknownBuild, describeKnown(), EnvAllowUnknown)
	}
	if err := bindAPI(h, &l.c); err != nil {
		return nil, fmt.Errorf("load %s: %w", loc.Lib, err)
	}
	l.GGMLVersion = l.c.ggmlVersion()
	if known {
		if build.ggmlVersion != l.GGMLVersion && !allowUnknown {
			return nil, fmt.Errorf("load %s: llama_version %q with ggml_version %q (expected %q): %w",
				loc.Lib, l.Version, l.GGMLVersion, build.ggmlVersion, ErrUnknownBuild)
		}
		l.KnownBuild = build.origin
	}
	l.modelDefault = l.c.llamaModelDefaults()
	l.ctxDefault = l.c.llamaContextDefaults()
	if err := checkDefaults(l.modelDefault, l.ctxDefault); err != nil {
		return nil, fmt.Errorf("load %s: ABI check failed: %v: %w", loc.Lib, err, ErrUnknownBuild)
	}
	return l, nil
}

// start initialises llama.cpp and loads the ggml backends beside the library.
func (l *Lib) start() error {
	installLogger(l)
	l.c.llamaBackendInit()
	l.c.ggmlLoadAllFromPath(l.Location.Dir)
	if len(l.Devices()) == 0 {
		return fmt.Errorf("load %s: no compute device after loading the ggml backends from %s (are the libggml-cpu-*.so files there?)", l.Location.Lib, l.Location.Dir)
	}
	return nil
}

// identify returns the known build matching version and the symbols it
// must export.
func identify(h uintptr, version string) (knownBuild, bool) {
	for _, b := range knownBuilds {
		if b.llamaVersion != version {
			continue
		}
		ok := true
		for _, s := range b.symbols {
			if !hasSymbol(h, s) {
				ok = false
				break
			}
		}
		if ok {
			return b, true
		}
	}
	return knownBuild{}, false
}

func describeKnown() string {
	var s []string
	for _, b := range knownBuilds {
		s = append(s, fmt.Sprintf("llama_version %q (%s)", b.llamaVersion, b.origin))
	}
	return strings.Join(s, ", ")
}

// checkELF reads the first bytes of path so that a text file or a library for
// another platform is reported plainly instead of through dlerror.
func checkELF(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var hdr [20]byte
	if _, err := f.Read(hdr[:]); err != nil {
		return fmt.Errorf("read header: %v: %w", err, ErrWrongLibrary)
	}
	if string(hdr[:4]) != "\x7fELF" {
		return fmt.Errorf("not an ELF shared library: %w", ErrWrongLibrary)
	}
	if hdr[4] != 2 || hdr[18] != 62 { // ELFCLASS64, EM_X86_64
		return fmt.Errorf("ELF file is not for linux/amd64: %w", ErrWrongLibrary)
	}
	return nil
}

func sameFile(a, b string) bool {
	if a == b {
		return true
	}
	ea, err1 := filepath.EvalSymlinks(a)
	eb, err2 := filepath.EvalSymlinks(b)
	return err1 == nil && err2 == nil && ea == eb
}

// SystemInfo is llama_print_system_info: the CPU features the build uses.
func (l *Lib) SystemInfo() string { return l.c.llamaPrintSystemInfo() }

// SupportsGPUOffload reports whether the build can offload layers to a GPU.
func (l *Lib) SupportsGPUOffload() bool { return l.c.llamaSupportsGPU() }

// Backends lists the names of the ggml backends registered (e.g. "CPU",
// "Vulkan", "ROCm", "CUDA").
func (l *Lib) Backends() []string {
	n := l.c.ggmlBackendRegCount()
	out := make([]string, 0, n)
	for i := range n {
		out = append(out, l.c.ggmlBackendRegName(l.c.ggmlBackendRegGet(i)))
	}
	return out
}

// DeviceType is ggml_backend_dev_type.
type DeviceType int32

// Device types, as ggml numbers them.
const (
	DeviceCPU DeviceType = iota
	DeviceGPU
	DeviceIGPU
	DeviceAccel
	DeviceMeta
)

func (t DeviceType) String() string {
	switch t {
	case DeviceCPU:
		return "CPU"
	case DeviceGPU:
		return "GPU"
	case DeviceIGPU:
		return "iGPU"
	case DeviceAccel:
		return "accelerator"
	case DeviceMeta:
		return "meta"
	}
	return fmt.Sprintf("device-type(%d)", int32(t))
}

// Device is a compute device seen by ggml.
type Device struct {
	Name        string
	Description string
	Type        DeviceType
	MemFree     uint64 // bytes
	MemTotal    uint64 // bytes
}

// Devices lists the compute devices of the loaded backends.
func (l *Lib) Devices() []Device {
	n := l.c.ggmlBackendDevCount()
	out := make([]Device, 0, n)
	for i := range n {
		d := l.c.ggmlBackendDevGet(i)
		dev := Device{
			Name:        l.c.ggmlBackendDevName(d),
			Description: l.c.ggmlBackendDevDesc(d),
			Type:        DeviceType(l.c.ggmlBackendDevType(d)),
		}
		l.c.ggmlBackendDevMemory(d, &dev.MemFree, &dev.MemTotal)
		out = append(out, dev)
	}
	return out
}
