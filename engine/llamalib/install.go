// Package llamalib obtains and finds the llama.cpp shared library (libllama) that
// speclab runs on.
//
// It owns three things: installing runtimes (the pinned CPU runtime
// @node-llama-cpp/linux-x64@3.22.1, or any runtime of the table of known
// releases, CPU or Vulkan: fetched once with `npm pack`, verified against a
// pinned sha512 and unpacked into the speclab cache); fetching the llama.cpp
// source of a release from the git bundle in its node-llama-cpp package
// (FetchSource: where llama.h comes from); and locating a libllama given the
// --llama-lib flag, the SPECLAB_LLAMA_LIB environment variable or a cache
// install.
//
// It must not load the library: it never calls dlopen or any llama.cpp symbol.
// Binding is the job of the engine package, which calls Locate and opens
// Location.Lib itself. The pinned hashes of other runtimes come from package
// releases, a table of data.
package llamalib

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/speclab/speclab/engine/releases"
)

// The pinned default runtime: a CPU build of llama.cpp shipped as shared
// libraries inside an npm package.
const (
	DefaultPackage   = "@node-llama-cpp/linux-x64"
	DefaultVersion   = "3.22.1"
	DefaultIntegrity = "sha512-5uCCDNqWCNfaAm8aR/Uzxbo4HBpKgNF91kCHPepKhgMgV2OAmatoefbOlMihsqCiH2Od35E/eUHQCFbfRBJuOg=="
)

// Runtime is one runtime package: a build of llama.cpp shipped as shared
// libraries in the npm registry, pinned by its sha512.
type Runtime struct {
	Package   string // "@node-llama-cpp/linux-x64" or "@node-llama-cpp/linux-x64-vulkan"
	Version   string // "3.22.1"
	Integrity string // npm "sha512-<base64>"
}

// DefaultRuntime is the pinned CPU runtime.
var DefaultRuntime = Runtime{DefaultPackage, DefaultVersion, DefaultIntegrity}

// Variants of a runtime version, by the name --variant takes.
var Variants = map[string]string{"cpu": releases.PackageCPU, "vulkan": releases.PackageVulkan}

// LookupRuntime returns the runtime of version (a @node-llama-cpp/linux-x64
// version of the table of known releases) and variant ("cpu" or "vulkan"),
// with its pinned sha512.
func LookupRuntime(version, variant string) (Runtime, error) {
	if variant == "" {
		variant = "cpu"
	}
	pkg, ok := Variants[variant]
	if !ok {
		return Runtime{}, fmt.Errorf("runtime variant %q: speclab knows cpu and vulkan", variant)
	}
	r, ok := releases.ByRuntime(version)
	if !ok {
		var known []string
		for _, r := range releases.All() {
			known = append(known, r.Runtime)
		}
		return Runtime{}, fmt.Errorf("runtime %s is not in speclab's table of releases (known: %s)", version, strings.Join(known, ", "))
	}
	return Runtime{Package: pkg, Version: version, Integrity: r.Integrity[pkg]}, nil
}

func (r Runtime) String() string { return r.Package + "@" + r.Version }

// Dir is the folder the runtime is installed into under the cache root.
func (r Runtime) Dir(cacheDir string) string {
	return filepath.Join(cacheDir, "runtimes", strings.TrimPrefix(r.Package, "@node-llama-cpp/")+"-"+r.Version)
}

// binsPrefix is the folder inside the package whose files make up the
// runtime: bins/linux-x64/ or bins/linux-x64-vulkan/.
func (r Runtime) binsPrefix() string {
	return "bins/" + strings.TrimPrefix(r.Package, "@node-llama-cpp/") + "/"
}

func (o InstallOptions) runtime() Runtime {
	if o.Runtime.Package == "" {
		return DefaultRuntime
	}
	return o.Runtime
}

// markerName is the file written last into an installed runtime folder. Its
// presence means the install is complete.
const markerName = "speclab-install.json"

// hint tells a user what to do when the runtime cannot be downloaded.
const hint = "speclab uses npm once to download the pinned llama.cpp runtime: install Node.js " +
	"(which includes npm) and run `speclab setup` again, or point speclab at an existing " +
	"libllama with --llama-lib /path/to/libllama.so or " + EnvLib + "=/path/to/libllama.so"

// InstallOptions configures Install and InstallTarball.
type InstallOptions struct {
	CacheDir string    // cache root; "" means DefaultCacheDir()
	Npm      string    // npm binary; "" means "npm" from PATH
	Progress io.Writer // receives human-readable progress lines; may be nil
	Runtime  Runtime   // the runtime to install; zero means DefaultRuntime
}

func (o InstallOptions) logf(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format+"\n", args...)
	}
}

func (o InstallOptions) cacheDir() (string, error) {
	if o.CacheDir != "" {
		return filepath.Abs(o.CacheDir)
	}
	return DefaultCacheDir()
}

// DefaultCacheDir returns speclab's cache root: $SPECLAB_CACHE if set, else
// $XDG_CACHE_HOME/speclab if that is an absolute path, else ~/.cache/speclab.
func DefaultCacheDir() (string, error) {
	if dir := os.Getenv("SPECLAB_CACHE"); dir != "" {
		return filepath.Abs(dir)
	}
	if dir := os.Getenv("XDG_CACHE_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, "speclab"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find cache folder (set SPECLAB_CACHE): %w", err)
	}
	return filepath.Join(home, ".cache", "speclab"), nil
}

// RuntimeDir returns the folder the default runtime is installed into under
// the cache root cacheDir.
func RuntimeDir(cacheDir string) string { return DefaultRuntime.Dir(cacheDir) }

// marker is the content of the speclab-install.json file.
type marker struct {
	Package     string    `json:"package"`
	Version     string    `json:"version"`
	Integrity   string    `json:"integrity"`
	Lib         string    `json:"lib"` // file name of libllama inside the folder
	InstalledAt time.Time `json:"installed_at"`
}

// readMarker reads the marker of the runtime folder dir and checks that the
// library it names is there. It returns the absolute library path.
func readMarker(dir string) (marker, string, error) {
	var m marker
	data, err := os.ReadFile(filepath.Join(dir, markerName))
	if err != nil {
		return m, "", err
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, "", fmt.Errorf("parse %s: %w", filepath.Join(dir, markerName), err)
	}
	if m.Lib == "" || m.Lib != filepath.Base(m.Lib) {
		return m, "", fmt.Errorf("%s: bad lib name %q", filepath.Join(dir, markerName), m.Lib)
	}
	lib := filepath.Join(dir, m.Lib)
	if _, err := os.Stat(lib); err != nil {
		return m, "", err
	}
	return m, lib, nil
}

// installed reports the library path of a complete install in dir made from
// the package of rt with the given integrity.
func installed(dir string, rt Runtime, integrity string) (string, bool) {
	m, lib, err := readMarker(dir)
	if err != nil || m.Package != rt.Package || m.Version != rt.Version || m.Integrity != integrity {
		return "", false
	}
	return lib, true
}

// Install makes sure the runtime of opt (the pinned default one unless
// opt.Runtime says otherwise) is in the cache and returns the path of its
// libllama. When a matching install is already there it returns at once
// without running npm; otherwise it runs `npm pack` for the package, checks
// the tarball against the pinned integrity and unpacks it with
// InstallTarball.
func Install(ctx context.Context, opt InstallOptions) (libPath string, err error) {
	return install(ctx, opt, opt.runtime().Integrity)
}

func install(ctx context.Context, opt InstallOptions, integrity string) (string, error) {
	cache, err := opt.cacheDir()
	if err != nil {
		return "", err
	}
	rt := opt.runtime()
	if lib, ok := installed(rt.Dir(cache), rt, integrity); ok {
		opt.logf("llama.cpp runtime already installed: %s", lib)
		return lib, nil
	}

	npm := opt.Npm
	if npm == "" {
		npm = "npm"
	}
	npmPath, err := exec.LookPath(npm)
	if err != nil {
		return "", fmt.Errorf("find npm: %w\n%s", err, hint)
	}

	runtimes := filepath.Join(cache, "runtimes")
	if err := os.MkdirAll(runtimes, 0o755); err != nil {
		return "", fmt.Errorf("create cache folder: %w", err)
	}
	tmp, err := os.MkdirTemp(runtimes, ".download-")
	if err != nil {
		return "", fmt.Errorf("create download folder: %w", err)
	}
	defer os.RemoveAll(tmp)

	spec := rt.String()
	opt.logf("downloading %s with npm pack", spec)
	cmd := exec.CommandContext(ctx, npmPath, "pack", spec, "--pack-destination", tmp, "--json", "--ignore-scripts")
	cmd.Dir = tmp
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("npm pack %s: %w", spec, ctx.Err())
		}
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = strings.TrimSpace(stdout.String())
		}
		return "", fmt.Errorf("npm pack %s: %w\n%s\n%s", spec, err, tail(msg, 2000), hint)
	}

	var packed []struct {
		Filename string `json:"filename"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &packed); err != nil {
		return "", fmt.Errorf("npm pack %s: read its --json output: %w", spec, err)
	}
	if len(packed) != 1 || packed[0].Filename == "" || packed[0].Filename != filepath.Base(packed[0].Filename) {
		return "", fmt.Errorf("npm pack %s: unexpected --json output: %s", spec, tail(stdout.String(), 500))
	}
	return InstallTarball(filepath.Join(tmp, packed[0].Filename), integrity, InstallOptions{
		CacheDir: cache, Npm: opt.Npm, Progress: opt.Progress, Runtime: rt,
	})
}

// tail returns at most the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// InstallTarball installs the runtime from the package tarball at tgzPath,
// which must match integrity (an npm "sha512-<base64>" string). It is the
// offline half of Install. The files of package/bins/linux-x64/ plus the
// package's LICENSE, README.md and package.json are unpacked into a temporary
// folder that is renamed to RuntimeDir(cache) only when complete, so a failure
// leaves no partial install behind. If a matching install already exists it
// returns its library path without reading tgzPath.
func InstallTarball(tgzPath, integrity string, opt InstallOptions) (libPath string, err error) {
	cache, err := opt.cacheDir()
	if err != nil {
		return "", err
	}
	rt := opt.runtime()
	dest := rt.Dir(cache)
	if lib, ok := installed(dest, rt, integrity); ok {
		opt.logf("llama.cpp runtime already installed: %s", lib)
		return lib, nil
	}
	if err := checkIntegrity(tgzPath, integrity); err != nil {
		return "", fmt.Errorf("%s: %w", tgzPath, err)
	}
	opt.logf("verified %s", integrity)
	f, err := os.Open(tgzPath)
	if err != nil {
		return "", fmt.Errorf("open runtime tarball: %w", err)
	}
	defer f.Close()

	runtimes := filepath.Dir(dest)
	if err := os.MkdirAll(runtimes, 0o755); err != nil {
		return "", fmt.Errorf("create cache folder: %w", err)
	}
	tmp, err := os.MkdirTemp(runtimes, ".unpack-")
	if err != nil {
		return "", fmt.Errorf("create unpack folder: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op once tmp has been renamed into place

	if err := unpack(f, tmp, rt.binsPrefix()); err != nil {
		return "", fmt.Errorf("unpack %s: %w", tgzPath, err)
	}
	lib, err := findLib(tmp)
	if err != nil {
		return "", fmt.Errorf("unpack %s: %w", tgzPath, err)
	}
	data, err := json.MarshalIndent(marker{
		Package:     rt.Package,
		Version:     rt.Version,
		Integrity:   integrity,
		Lib:         filepath.Base(lib),
		InstalledAt: time.Now().UTC(),
	}, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(tmp, markerName), append(data, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("write install marker: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", fmt.Errorf("install runtime: %w", err)
	}
	if err := replaceDir(tmp, dest, rt, integrity); err != nil {
		return "", err
	}
	lib = filepath.Join(dest, filepath.Base(lib))
	opt.logf("installed llama.cpp runtime: %s", lib)
	return lib, nil
}

// replaceDir renames the complete folder tmp to dest. An incomplete or
// different folder already at dest is moved aside and removed; a matching
// install put there meanwhile by another process is kept.
func replaceDir(tmp, dest string, rt Runtime, integrity string) error {
	err := os.Rename(tmp, dest)
	if err == nil {
		return nil
	}
	if _, ok := installed(dest, rt, integrity); ok {
		return nil // another process finished first
	}
	if _, statErr := os.Lstat(dest); statErr != nil {
		return fmt.Errorf("install runtime: %w", err)
	}
	old, err := os.MkdirTemp(filepath.Dir(dest), ".old-")
	if err != nil {
		return fmt.Errorf("install runtime: %w", err)
	}
	defer os.RemoveAll(old)
	if err := os.Rename(dest, filepath.Join(old, "runtime")); err != nil {
		return fmt.Errorf("move old runtime %s aside: %w", dest, err)
	}
	if err := os.Rename(tmp, dest); err != nil {
		return fmt.Errorf("install runtime: %w", err)
	}
	return nil
}

// unpack extracts the runtime files of the gzipped npm tarball r into dir,
// which must be empty. Any entry with an unsafe path, and any link, fails the
// whole archive.
func unpack(r io.Reader, dir, binsPrefix string) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		name := hdr.Name
		clean := path.Clean(name)
		if name == "" || path.IsAbs(name) || strings.Contains(name, `\`) || clean == ".." || strings.HasPrefix(clean, "../") {
			return fmt.Errorf("unsafe path %q in archive", name)
		}
		switch hdr.Typeflag {
		case tar.TypeReg:
		case tar.TypeDir, tar.TypeXGlobalHeader:
			continue
		case tar.TypeSymlink, tar.TypeLink:
			return fmt.Errorf("archive entry %q is a link to %q; links are not allowed", name, hdr.Linkname)
		default:
			return fmt.Errorf("archive entry %q has unsupported type %q", name, hdr.Typeflag)
		}
		rel, ok := strings.CutPrefix(clean, "package/")
		if !ok {
			continue
		}
		var out string
		switch {
		case strings.HasPrefix(rel, binsPrefix):
			out = strings.TrimPrefix(rel, binsPrefix)
		case rel == "LICENSE" || rel == "README.md" || rel == "package.json":
			out = rel
		default:
			continue
		}
		if out == markerName {
			return fmt.Errorf("archive entry %q clashes with speclab's install marker", name)
		}
		if err := writeFile(filepath.Join(dir, filepath.FromSlash(out)), tr, hdr.FileInfo().Mode()); err != nil {
			return err
		}
	}
	return zr.Close()
}

func writeFile(name string, r io.Reader, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	perm := os.FileMode(0o644)
	if mode&0o111 != 0 {
		perm = 0o755
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	return f.Close()
}
