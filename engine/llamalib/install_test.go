package llamalib

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type tarEntry struct {
	name     string
	body     string
	typeflag byte // 0 means tar.TypeReg
	linkname string
}

// runtimeEntries is a small package shaped like the real one.
var runtimeEntries = []tarEntry{
	{name: "package/package.json", body: `{"name":"@node-llama-cpp/linux-x64"}`},
	{name: "package/LICENSE", body: "MIT"},
	{name: "package/README.md", body: "readme"},
	{name: "package/dist/index.js", body: "module.exports = {}"},
	{name: "package/bins/linux-x64/", typeflag: tar.TypeDir},
	{name: "package/bins/linux-x64/_nlcBuildMetadata.json", body: `{"gpu":false}`},
	{name: "package/bins/linux-x64/libllama.v0.5.0.so", body: "\x7fELF libllama"},
	{name: "package/bins/linux-x64/libllama-common.so", body: "\x7fELF common"},
	{name: "package/bins/linux-x64/libggml-base.so", body: "\x7fELF ggml-base"},
	{name: "package/bins/linux-x64/libggml-cpu-x64.so", body: "\x7fELF cpu"},
}

// wantFiles is what installing runtimeEntries must produce (besides the marker).
var wantFiles = map[string]string{
	"package.json":           `{"name":"@node-llama-cpp/linux-x64"}`,
	"LICENSE":                "MIT",
	"README.md":              "readme",
	"_nlcBuildMetadata.json": `{"gpu":false}`,
	"libllama.v0.5.0.so":     "\x7fELF libllama",
	"libllama-common.so":     "\x7fELF common",
	"libggml-base.so":        "\x7fELF ggml-base",
	"libggml-cpu-x64.so":     "\x7fELF cpu",
}

// makeTgz writes a gzipped tarball of entries and returns its path and npm
// integrity string.
func makeTgz(t *testing.T, entries []tarEntry) (string, string) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Typeflag: e.typeflag, Linkname: e.linkname, Mode: 0o644, ModTime: time.Unix(499162500, 0)}
		if hdr.Typeflag == 0 {
			hdr.Typeflag = tar.TypeReg
		}
		if hdr.Typeflag == tar.TypeReg {
			hdr.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "pkg.tgz")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p, integrityOf(buf.Bytes())
}

func integrityOf(b []byte) string {
	sum := sha512.Sum512(b)
	return "sha512-" + base64.StdEncoding.EncodeToString(sum[:])
}

// runtimesEntries lists what is left in <cache>/runtimes (none if absent).
func runtimesEntries(t *testing.T, cache string) []string {
	t.Helper()
	es, err := os.ReadDir(filepath.Join(cache, "runtimes"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestInstallTarball(t *testing.T) {
	tgz, integrity := makeTgz(t, runtimeEntries)
	cache := t.TempDir()
	var progress bytes.Buffer
	lib, err := InstallTarball(tgz, integrity, InstallOptions{CacheDir: cache, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	dir := RuntimeDir(cache)
	if want := filepath.Join(dir, "libllama.v0.5.0.so"); lib != want {
		t.Errorf("lib = %s, want %s", lib, want)
	}
	for name, want := range wantFiles {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Error(err)
		} else if string(got) != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != len(wantFiles)+1 {
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		t.Errorf("installed files %v, want the %d expected files plus %s", names, len(wantFiles), markerName)
	}
	var m marker
	data, err := os.ReadFile(filepath.Join(dir, markerName))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if m.Package != DefaultPackage || m.Version != DefaultVersion || m.Integrity != integrity || m.Lib != "libllama.v0.5.0.so" {
		t.Errorf("marker = %+v", m)
	}
	if time.Since(m.InstalledAt) > time.Hour || m.InstalledAt.After(time.Now()) {
		t.Errorf("marker time %v is not now", m.InstalledAt)
	}
	if got := runtimesEntries(t, cache); len(got) != 1 {
		t.Errorf("runtimes folder holds %v, want only the install", got)
	}
	if !strings.Contains(progress.String(), "installed") {
		t.Errorf("progress %q does not report the install", progress.String())
	}

	// A second call is a no-op: it needs no tarball and rewrites nothing.
	before, err := os.Stat(filepath.Join(dir, markerName))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(tgz); err != nil {
		t.Fatal(err)
	}
	lib2, err := InstallTarball(tgz, integrity, InstallOptions{CacheDir: cache})
	if err != nil {
		t.Fatalf("second install: %v", err)
	}
	if lib2 != lib {
		t.Errorf("second install lib = %s, want %s", lib2, lib)
	}
	after, err := os.Stat(filepath.Join(dir, markerName))
	if err != nil {
		t.Fatal(err)
	}
	if !after.ModTime().Equal(before.ModTime()) || !os.SameFile(before, after) {
		t.Error("second install rewrote the marker")
	}
}

func TestInstallTarballReplacesIncomplete(t *testing.T) {
	tgz, integrity := makeTgz(t, runtimeEntries)
	cache := t.TempDir()
	dir := RuntimeDir(cache)
	// A folder without marker (e.g. copied by hand) is not an install.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "junk"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := InstallTarball(tgz, integrity, InstallOptions{CacheDir: cache}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "junk")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("old file survived the install: %v", err)
	}
	if _, ok := installed(dir, DefaultRuntime, integrity); !ok {
		t.Error("no complete install after replacing the old folder")
	}
	if got := runtimesEntries(t, cache); len(got) != 1 {
		t.Errorf("runtimes folder holds %v, want only the install", got)
	}
}

func TestInstallTarballRejects(t *testing.T) {
	good, goodIntegrity := makeTgz(t, runtimeEntries)
	wrongIntegrity := integrityOf([]byte("something else"))
	withEntry := func(e ...tarEntry) []tarEntry {
		return append(append([]tarEntry{}, runtimeEntries...), e...)
	}
	tests := []struct {
		name      string
		entries   []tarEntry // nil: use the good tarball
		integrity string     // "": the tarball's own
		raw       []byte     // non-nil: the tarball file's bytes
		want      []string
	}{
		{name: "wrong integrity", integrity: wrongIntegrity, want: []string{"integrity mismatch", wrongIntegrity, goodIntegrity}},
		{name: "not sha512", integrity: "sha1-abc", want: []string{"sha1-abc", "only sha512"}},
		{name: "parent path", entries: withEntry(tarEntry{name: "../evil", body: "x"}), want: []string{"unsafe path", "../evil"}},
		{name: "nested parent path", entries: withEntry(tarEntry{name: "package/bins/linux-x64/../../../../evil", body: "x"}), want: []string{"unsafe path"}},
		{name: "absolute path", entries: withEntry(tarEntry{name: "/tmp/evil", body: "x"}), want: []string{"unsafe path", "/tmp/evil"}},
		{name: "symlink", entries: withEntry(tarEntry{name: "package/bins/linux-x64/libllama.so", typeflag: tar.TypeSymlink, linkname: "/etc/passwd"}), want: []string{"links are not allowed", "/etc/passwd"}},
		{name: "hard link", entries: withEntry(tarEntry{name: "package/bins/linux-x64/x.so", typeflag: tar.TypeLink, linkname: "package/LICENSE"}), want: []string{"links are not allowed"}},
		{name: "device", entries: withEntry(tarEntry{name: "package/bins/linux-x64/dev", typeflag: tar.TypeChar}), want: []string{"unsupported type"}},
		{name: "marker clash", entries: withEntry(tarEntry{name: "package/bins/linux-x64/" + markerName, body: "{}"}), want: []string{"clashes with speclab's install marker"}},
		{name: "no libllama", entries: []tarEntry{{name: "package/LICENSE", body: "MIT"}, {name: "package/bins/linux-x64/libggml-base.so", body: "x"}}, want: []string{"no libllama shared library"}},
		{name: "not gzip", raw: []byte("this is not a tarball"), want: []string{"gzip: invalid header"}},
		{name: "truncated", raw: func() []byte { b, _ := os.ReadFile(good); return b[:len(b)/2] }(), want: []string{"unexpected EOF"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tgz, integrity := good, goodIntegrity
			switch {
			case tt.raw != nil:
				tgz = filepath.Join(t.TempDir(), "raw.tgz")
				if err := os.WriteFile(tgz, tt.raw, 0o644); err != nil {
					t.Fatal(err)
				}
				integrity = integrityOf(tt.raw)
			case tt.entries != nil:
				tgz, integrity = makeTgz(t, tt.entries)
			}
			if tt.integrity != "" {
				integrity = tt.integrity
			}
			root := t.TempDir()
			cache := filepath.Join(root, "a", "b", "cache")
			lib, err := InstallTarball(tgz, integrity, InstallOptions{CacheDir: cache})
			if err == nil {
				t.Fatalf("installed %s, want an error", lib)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if got := runtimesEntries(t, cache); len(got) != 0 {
				t.Errorf("failed install left %v in the cache", got)
			}
			for _, p := range []string{filepath.Join(root, "evil"), filepath.Join(root, "a", "evil"), filepath.Join(cache, "evil")} {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("%s was written", p)
				}
			}
		})
	}
}

// fakeNpm writes an executable shell script standing in for npm.
func fakeNpm(t *testing.T, script string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "npm")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// packingNpm is a fake npm that "downloads" the tarball $FAKE_TGZ the way
// npm pack does, after checking it was asked for the pinned package.
const packingNpm = `
[ "$1" = pack ] && [ "$2" = "@node-llama-cpp/linux-x64@3.22.1" ] || { echo "unexpected args: $*" >&2; exit 3; }
dest=
while [ $# -gt 0 ]; do
	if [ "$1" = --pack-destination ]; then dest=$2; fi
	shift
done
[ -d "$dest" ] || { echo "no --pack-destination folder" >&2; exit 4; }
cp "$FAKE_TGZ" "$dest/node-llama-cpp-linux-x64-3.22.1.tgz" || exit 5
echo 'npm notice packing' >&2
printf '[{"id":"@node-llama-cpp/linux-x64@3.22.1","filename":"node-llama-cpp-linux-x64-3.22.1.tgz","integrity":"%s"}]\n' "$FAKE_CLAIM"
`

func TestInstallWithFakeNpm(t *testing.T) {
	tgz, integrity := makeTgz(t, runtimeEntries)
	t.Setenv("FAKE_TGZ", tgz)
	t.Setenv("FAKE_CLAIM", DefaultIntegrity) // npm's claim must not be trusted
	failing := fakeNpm(t, "echo 'npm error code E404' >&2\necho 'npm error 404 Not Found - GET https://registry.npmjs.org/x' >&2\nexit 1\n")

	cache := t.TempDir()
	var progress bytes.Buffer
	lib, err := install(context.Background(), InstallOptions{CacheDir: cache, Npm: fakeNpm(t, packingNpm), Progress: &progress}, integrity)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(RuntimeDir(cache), "libllama.v0.5.0.so"); lib != want {
		t.Errorf("lib = %s, want %s", lib, want)
	}
	if !strings.Contains(progress.String(), "npm pack") {
		t.Errorf("progress %q does not mention npm pack", progress.String())
	}
	if got := runtimesEntries(t, cache); len(got) != 1 {
		t.Errorf("runtimes folder holds %v, want only the install", got)
	}
	// Installed: npm is not run again (the failing one would make it an error).
	lib2, err := install(context.Background(), InstallOptions{CacheDir: cache, Npm: failing}, integrity)
	if err != nil || lib2 != lib {
		t.Errorf("second install = %q, %v; want %q with no npm call", lib2, err, lib)
	}
}

func TestInstallErrors(t *testing.T) {
	tgz, integrity := makeTgz(t, runtimeEntries)
	t.Setenv("FAKE_TGZ", tgz)
	t.Setenv("FAKE_CLAIM", DefaultIntegrity)
	hints := []string{"Node.js", "--llama-lib", EnvLib}
	tests := []struct {
		name      string
		npm       string
		integrity string
		want      []string
	}{
		{
			name:      "npm fails",
			npm:       fakeNpm(t, "echo 'npm error 404 Not Found' >&2\nexit 1\n"),
			integrity: DefaultIntegrity,
			want:      append([]string{"npm pack", "404 Not Found", "exit status 1"}, hints...),
		},
		{
			name:      "npm missing",
			npm:       filepath.Join(t.TempDir(), "no-such-npm"),
			integrity: DefaultIntegrity,
			want:      append([]string{"npm", "no-such-npm"}, hints...),
		},
		{
			name:      "npm prints junk",
			npm:       fakeNpm(t, "echo hello\n"),
			integrity: DefaultIntegrity,
			want:      []string{"--json"},
		},
		{
			name:      "npm gives the wrong tarball",
			npm:       fakeNpm(t, packingNpm),
			integrity: DefaultIntegrity,
			want:      []string{"integrity mismatch", DefaultIntegrity, integrity},
		},
		{
			name:      "npm filename escapes",
			npm:       fakeNpm(t, `echo '[{"filename":"../x.tgz"}]'`),
			integrity: integrity,
			want:      []string{"unexpected --json output"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cache := t.TempDir()
			lib, err := install(context.Background(), InstallOptions{CacheDir: cache, Npm: tt.npm}, tt.integrity)
			if err == nil {
				t.Fatalf("installed %s, want an error", lib)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if got := runtimesEntries(t, cache); len(got) != 0 {
				t.Errorf("failed install left %v in the cache", got)
			}
		})
	}
}

func TestInstallCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cache := t.TempDir()
	_, err := Install(ctx, InstallOptions{CacheDir: cache, Npm: fakeNpm(t, "sleep 10\n")})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if got := runtimesEntries(t, cache); len(got) != 0 {
		t.Errorf("canceled install left %v in the cache", got)
	}
}

// TestInstallNetwork installs the real pinned package with the real npm.
func TestInstallNetwork(t *testing.T) {
	if os.Getenv("SPECLAB_NETWORK_TESTS") != "1" {
		t.Skip("set SPECLAB_NETWORK_TESTS=1 to download the real runtime with npm")
	}
	cache := t.TempDir()
	lib, err := Install(context.Background(), InstallOptions{CacheDir: cache, Progress: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(lib) != "libllama.v0.5.0.so" {
		t.Errorf("lib = %s", lib)
	}
	dir := RuntimeDir(cache)
	for _, name := range []string{"libggml.v0.5.0.so", "libggml-base.so", "libggml-cpu-x64.so", "LICENSE", "_nlcBuildMetadata.json"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
	loc, err := Locate("", cache)
	if err != nil {
		t.Fatal(err)
	}
	if loc.Lib != lib || loc.Dir != dir || loc.Source != SourceCache {
		t.Errorf("Locate = %+v", loc)
	}
	// Offline afterwards: a broken npm is never called.
	broken := fakeNpm(t, "exit 1\n")
	if lib2, err := Install(context.Background(), InstallOptions{CacheDir: cache, Npm: broken}); err != nil || lib2 != lib {
		t.Errorf("second Install = %q, %v", lib2, err)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestDefaultCacheDir(t *testing.T) {
	home := t.TempDir()
	tests := []struct {
		name, speclab, xdg string
		want               string
	}{
		{"SPECLAB_CACHE wins", "/opt/sc", "/xdg", "/opt/sc"},
		{"XDG_CACHE_HOME", "", "/xdg", "/xdg/speclab"},
		{"relative XDG ignored", "", "rel", filepath.Join(home, ".cache", "speclab")},
		{"home", "", "", filepath.Join(home, ".cache", "speclab")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("HOME", home)
			t.Setenv("SPECLAB_CACHE", tt.speclab)
			t.Setenv("XDG_CACHE_HOME", tt.xdg)
			got, err := DefaultCacheDir()
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("DefaultCacheDir() = %s, want %s", got, tt.want)
			}
		})
	}
}
