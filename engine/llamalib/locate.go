package llamalib

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// EnvLib is the environment variable that names a libllama file or folder.
const EnvLib = "SPECLAB_LLAMA_LIB"

// Source says where a Location came from.
type Source string

// The places Locate looks, in order.
const (
	SourceFlag  Source = "flag"  // the --llama-lib flag
	SourceEnv   Source = "env"   // the SPECLAB_LLAMA_LIB environment variable
	SourceCache Source = "cache" // the runtime installed by Install
)

// Location is a libllama found by Locate.
type Location struct {
	Lib    string // absolute path of the libllama shared object
	Dir    string // its folder, where the ggml backends live
	Source Source
}

// ErrNotFound is returned (wrapped, with instructions) by Locate when no flag
// or environment variable names a library and no runtime is installed.
var ErrNotFound = errors.New("llama.cpp library (libllama) not found")

// errNoLib is returned by findLib for a folder without a libllama.
var errNoLib = errors.New("no libllama shared library")

// Locate finds libllama. It tries, in order: flagValue (the --llama-lib flag),
// $SPECLAB_LLAMA_LIB, and the runtime installed by Install under cacheDir
// ("" means DefaultCacheDir()). A flag or environment value may name the
// library file or a folder holding it; in a folder, libllama.so is preferred,
// else the single libllama.*.so or libllama.*.so.N file. A flag or environment
// value that does not lead to a library is an error; Locate does not fall
// through to the next place.
func Locate(flagValue string, cacheDir string) (Location, error) {
	if flagValue != "" {
		return locateIn(flagValue, SourceFlag)
	}
	if v := os.Getenv(EnvLib); v != "" {
		return locateIn(v, SourceEnv)
	}
	if cacheDir == "" {
		var err error
		if cacheDir, err = DefaultCacheDir(); err != nil {
			return Location{}, notFound(fmt.Sprintf("the cache folder is unknown (%v)", err))
		}
	}
	dir, err := filepath.Abs(RuntimeDir(cacheDir))
	if err != nil {
		return Location{}, fmt.Errorf("locate llama.cpp runtime: %w", err)
	}
	_, lib, err := readMarker(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, statErr := os.Stat(dir); statErr != nil {
			return Location{}, notFound("no runtime is installed in " + dir)
		}
		return Location{}, notFound(fmt.Sprintf("the runtime in %s is incomplete (%v)", dir, err))
	case err != nil:
		return Location{}, notFound(fmt.Sprintf("the runtime in %s is damaged (%v)", dir, err))
	}
	return Location{Lib: lib, Dir: dir, Source: SourceCache}, nil
}

// LocateRuntime finds the installed runtime rt in the cache (cacheDir ""
// means DefaultCacheDir()).
func LocateRuntime(rt Runtime, cacheDir string) (Location, error) {
	if cacheDir == "" {
		var err error
		if cacheDir, err = DefaultCacheDir(); err != nil {
			return Location{}, fmt.Errorf("locate runtime %s: %w", rt, err)
		}
	}
	dir, err := filepath.Abs(rt.Dir(cacheDir))
	if err != nil {
		return Location{}, fmt.Errorf("locate runtime %s: %w", rt, err)
	}
	if lib, ok := installed(dir, rt, rt.Integrity); ok {
		return Location{Lib: lib, Dir: dir, Source: SourceCache}, nil
	}
	return Location{}, fmt.Errorf("%w: runtime %s is not installed in %s; run `speclab setup --runtime %s`", ErrNotFound, rt, dir, rt.Version)
}

// notFound wraps ErrNotFound with why and how to fix it.
func notFound(why string) error {
	return fmt.Errorf("%w: no --llama-lib flag, %s is unset, and %s.\n"+
		"Fix it in one of these ways:\n"+
		"  - run `speclab setup` (installs the pinned CPU runtime %s@%s with npm pack; needs Node.js/npm once)\n"+
		"  - pass --llama-lib /path/to/libllama.so (the file, or the folder holding it)\n"+
		"  - set %s=/path/to/libllama.so\n"+
		"For a GPU build, point at its folder: e.g. for ROCm/HIP on Strix Halo, the build/bin folder of a llama.cpp "+
		"build configured with -DGGML_HIP=ON -DAMDGPU_TARGETS=gfx1151.",
		ErrNotFound, EnvLib, why, DefaultPackage, DefaultVersion, EnvLib)
}

// locateIn resolves a user-given file or folder.
func locateIn(p string, src Source) (Location, error) {
	from := "--llama-lib"
	if src == SourceEnv {
		from = EnvLib
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return Location{}, fmt.Errorf("%s %s: %w", from, p, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is already in the message
		}
		return Location{}, fmt.Errorf("%s %s: %w", from, p, err)
	}
	lib := abs
	switch {
	case fi.IsDir():
		if lib, err = findLib(abs); err != nil {
			return Location{}, fmt.Errorf("%s %s: %w", from, p, err)
		}
	case !fi.Mode().IsRegular():
		return Location{}, fmt.Errorf("%s %s: not a regular file or folder", from, p)
	}
	return Location{Lib: lib, Dir: filepath.Dir(lib), Source: src}, nil
}

// findLib returns the libllama shared object in dir: libllama.so if present,
// else the single libllama.*.so file, else the single libllama.*.so.N file. Candidates that are
// the same file (symlinks such as libllama.so.0 -> libllama.so.0.0.1) count
// once, under the shortest name.
func findLib(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	type cand struct {
		name string
		fi   fs.FileInfo
	}
	var cands []cand
	for _, e := range entries {
		name := e.Name()
		isLib := name == "libllama.so" ||
			strings.HasPrefix(name, "libllama.") && (strings.HasSuffix(name, ".so") || strings.Contains(name, ".so."))
		if !isLib {
			continue
		}
		fi, err := os.Stat(filepath.Join(dir, name)) // follows symlinks
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if name == "libllama.so" {
			return filepath.Join(dir, name), nil
		}
		cands = append(cands, cand{name, fi})
	}
	if len(cands) == 0 {
		return "", fmt.Errorf("%w in folder %s (looked for libllama.so, libllama.*.so and their .so.N versions)", errNoLib, dir)
	}
	// A release names its library libllama.<release>.so (libllama.b8390.so,
	// libllama.v0.5.0.so, libllama.vulkan.v0.5.0.so) and may ship copies
	// of it as libllama.<release>.so.N too (3.15.0 does): one unversioned
	// .so whose every other candidate is such a copy wins.
	var plain []cand
	for _, c := range cands {
		if strings.HasSuffix(c.name, ".so") {
			plain = append(plain, c)
		}
	}
	if len(plain) == 1 {
		copies := true
		for _, c := range cands {
			if c.name != plain[0].name && !strings.HasPrefix(c.name, plain[0].name+".") {
				copies = false
			}
		}
		if copies {
			return filepath.Join(dir, plain[0].name), nil
		}
	}
	sort.Slice(cands, func(i, j int) bool {
		if len(cands[i].name) != len(cands[j].name) {
			return len(cands[i].name) < len(cands[j].name)
		}
		return cands[i].name < cands[j].name
	})
	var names []string
	for _, c := range cands {
		if !os.SameFile(c.fi, cands[0].fi) {
			for _, c := range cands {
				names = append(names, c.name)
			}
			return "", fmt.Errorf("several libllama candidates in folder %s: %s; pass the file itself",
				dir, strings.Join(names, ", "))
		}
	}
	return filepath.Join(dir, cands[0].name), nil
}
