package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ebitengine/purego"

	"github.com/speclab/speclab/engine/llamah"
	"github.com/speclab/speclab/engine/llamalib"
	"github.com/speclab/speclab/engine/releases"
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

// EnvHeader names a llama.h, as LibOptions.Header does.
const EnvHeader = "SPECLAB_LLAMA_H"

// LibOptions says which libllama to load and how.
type LibOptions struct {
	// Path is a libllama shared object or the folder holding one, as given
	// by --llama-lib. Empty: $SPECLAB_LLAMA_LIB, then the runtime installed
	// by `speclab setup` (see package llamalib).
	Path string
	// CacheDir is where `speclab setup` installs runtimes; empty means the
	// default (llamalib.DefaultCacheDir).
	CacheDir string
	// Header is the llama.h of the source the library was built from
	// (--llama-h). Its struct layouts and prototypes are used instead of the
	// table of known releases. Empty: $SPECLAB_LLAMA_H, then include/llama.h
	// above the library's folder when the library sits in a build tree,
	// then the table.
	Header string
	// AllowUnknownBuild drives a library that neither the table nor a
	// header describes with the layouts of the nearest known release. The
	// default-parameter probe still has to pass.
	AllowUnknownBuild bool
}

// Lib is a loaded libllama with its ggml backends. There is at most one per
// process: libllama and ggml keep global state.
type Lib struct {
	Location    llamalib.Location
	Version     string // llama_version(); empty for releases without it
	GGMLVersion string // ggml_version()
	// KnownBuild names the table entries the library was identified as
	// ("@node-llama-cpp/linux-x64@3.22.1 (llama.cpp v0.5.0)"); empty when
	// its layouts come from a header or --allow-unknown-llama.
	KnownBuild string
	// Releases are those table entries.
	Releases []releases.Release
	// LayoutSource says where the struct layouts come from: "table: <the
	// package and file of the entry>" or "header <path>".
	LayoutSource string
	// IdentifiedBy says how the library was recognised.
	IdentifiedBy string
	// Capabilities are the release-dependent features and their fallbacks.
	Capabilities []Capability

	// TypesFrom says where the count of the library's tensor types comes
	// from ("table", or the ggml.h beside a header), or why it is unknown.
	TypesFrom string

	handle       uintptr
	c            api
	types        *ggmlTypes
	modelDefault cStruct
	ctxDefault   cStruct
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
	if opt.Header == "" {
		opt.Header = os.Getenv(EnvHeader)
	}
	opt.AllowUnknownBuild = opt.AllowUnknownBuild || os.Getenv(EnvAllowUnknown) == "1"
	l, err := check(loc, opt)
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
func check(loc llamalib.Location, opt LibOptions) (*Lib, error) {
	if err := checkELF(loc.Lib); err != nil {
		return nil, fmt.Errorf("load %s (from %s): %w", loc.Lib, loc.Source, err)
	}
	if opt.Header != "" {
		if _, err := os.Stat(opt.Header); err != nil {
			return nil, fmt.Errorf("--llama-h: %w", err)
		}
	}
	exported, err := exportedLlama(loc.Lib)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", loc.Lib, err)
	}
	if len(exported) == 0 {
		return nil, fmt.Errorf("load %s: it exports no llama_* function: %w", loc.Lib, ErrWrongLibrary)
	}
	h, err := purego.Dlopen(loc.Lib, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return nil, fmt.Errorf("load %s (from %s): %v: %w", loc.Lib, loc.Source, err, ErrWrongLibrary)
	}
	l := &Lib{Location: loc, handle: h}
	if hasSymbol(h, "llama_version") {
		var version func() string
		purego.RegisterLibFunc(&version, h, "llama_version")
		l.Version = version()
	}
	header, headerHow := opt.Header, "the llama.h it was given (--llama-h or "+EnvHeader+")"
	if header == "" {
		header, headerHow = findHeader(loc.Dir), "the llama.h of the build tree it sits in"
	}
	src, err := identify(exported, header, headerHow, l.Version)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", loc.Lib, err)
	}
	if src == nil {
		if !opt.AllowUnknownBuild {
			return nil, unknownBuildError(loc.Lib, l.Version, exported)
		}
		near, d := releases.Nearest(exported)
		src = &abiSource{abi: near.ABI, how: fmt.Sprintf("--allow-unknown-llama: the nearest known release, %s (%d functions differ)", near, d),
			defaults: near.ABI.Defaults}
	}
	if err := bindAPI(h, &l.c, src.abi); err != nil {
		return nil, fmt.Errorf("load %s (layouts from %s): %w", loc.Lib, src.describe(), err)
	}
	if err := checkGoStruct("llama_batch", src.abi.Records["llama_batch"]); err != nil {
		return nil, fmt.Errorf("load %s (layouts from %s): %v: %w", loc.Lib, src.describe(), err, ErrUnknownBuild)
	}
	for _, name := range []string{"llama_perf_context_data", "llama_token_data", "llama_token_data_array"} {
		if err := checkGoStruct(name, src.abi.Records[name]); err != nil {
			return nil, fmt.Errorf("load %s (layouts from %s): %v: %w", loc.Lib, src.describe(), err, ErrUnknownBuild)
		}
	}
	l.GGMLVersion = l.c.ggmlVersion()
	if l.modelDefault, err = probeDefaults(l.c.symModelDefaults, src.abi.Records["llama_model_params"], src.defaults["llama_model_params"]); err == nil {
		l.ctxDefault, err = probeDefaults(l.c.symContextDefaults, src.abi.Records["llama_context_params"], src.defaults["llama_context_params"])
	}
	if err != nil {
		return nil, fmt.Errorf("load %s: ABI check failed with the layouts of %s (identified by %s): %v: %w",
			loc.Lib, src.describe(), src.how, err, ErrUnknownBuild)
	}
	l.Releases = src.releases
	var names []string
	for _, r := range src.releases {
		names = append(names, r.String())
	}
	l.KnownBuild = strings.Join(names, ", ")
	l.LayoutSource = src.describe()
	l.IdentifiedBy = src.how
	l.Capabilities = l.capabilities()
	switch {
	case len(src.releases) > 0:
		l.types = l.readTypes(src.releases[0].GGMLTypes)
		l.TypesFrom = fmt.Sprintf("%d ids, GGML_TYPE_COUNT of the table's %s", src.releases[0].GGMLTypes, src.releases[0].LlamaCpp)
	case src.header != "":
		if n, from := llamah.GGMLTypeCount(src.header); n > 0 {
			l.types = l.readTypes(n)
			l.TypesFrom = fmt.Sprintf("%d ids, GGML_TYPE_COUNT of %s", n, from)
		} else {
			l.TypesFrom = "unknown: no ggml.h beside " + src.header + "; speclab's own table applies"
		}
	default:
		l.TypesFrom = "unknown (--allow-unknown-llama); speclab's own table applies"
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

// MarshalText writes the type's name (JSON: "GPU").
func (t DeviceType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText reads a name that String writes.
func (t *DeviceType) UnmarshalText(b []byte) error {
	for d := DeviceCPU; d <= DeviceMeta; d++ {
		if d.String() == string(b) {
			*t = d
			return nil
		}
	}
	var n int32
	if _, err := fmt.Sscanf(string(b), "device-type(%d)", &n); err == nil {
		*t = DeviceType(n)
		return nil
	}
	return fmt.Errorf("device type %q: unknown", b)
}

// Device is a compute device seen by ggml.
type Device struct {
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Type        DeviceType `json:"type"`
	MemFree     uint64     `json:"mem_free"`  // bytes
	MemTotal    uint64     `json:"mem_total"` // bytes
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

// BackendProblem is a ggml backend library beside libllama that did not
// become a backend, and why.
type BackendProblem struct {
	File string
	Why  string
}

// UnloadedBackends lists the GPU backend libraries (libggml-<name>.so,
// except the CPU variants, of which one is chosen by design) in the
// library's folder that registered no backend, with the reason: the
// dynamic loader's error, or that the library loaded but found no usable
// device.
func (l *Lib) UnloadedBackends() []BackendProblem {
	files, _ := filepath.Glob(filepath.Join(l.Location.Dir, "libggml-*.so"))
	loaded := map[string]bool{}
	for _, b := range l.Backends() {
		loaded[strings.ToLower(b)] = true
	}
	var out []BackendProblem
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "libggml-"), ".so")
		if name == "base" || strings.HasPrefix(name, "cpu") || loaded[name] {
			continue
		}
		p := BackendProblem{File: f}
		h, err := purego.Dlopen(f, purego.RTLD_NOW|purego.RTLD_LOCAL)
		if err != nil {
			p.Why = "it does not load: " + err.Error()
		} else {
			purego.Dlclose(h)
			p.Why = "it loads but registered no backend: it found no usable device (is the GPU driver or its loader, e.g. libvulkan.so.1 and an ICD, installed and visible?)"
		}
		out = append(out, p)
	}
	return out
}
