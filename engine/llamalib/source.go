package llamalib

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/speclab/speclab/engine/releases"
)

// SourcePackage is the npm package that bundles the llama.cpp source of
// each runtime release (llama/gitRelease.bundle, a git bundle).
const SourcePackage = "node-llama-cpp"

// LlamaSource is the llama.cpp source of one runtime version, unpacked into the
// cache by FetchSource.
type LlamaSource struct {
	Version string // the node-llama-cpp version, e.g. "3.18.1"
	Release string // the llama.cpp release it bundles, e.g. "b8390"
	Dir     string // the source tree: include/llama.h, src/, ggml/
}

// Header is the path of the release's llama.h.
func (s LlamaSource) Header() string { return filepath.Join(s.Dir, "include", "llama.h") }

// FetchSource makes sure the llama.cpp source bundled in
// node-llama-cpp@version is unpacked under cacheDir ("" means
// DefaultCacheDir()) and returns it. The first call runs `npm pack` (about
// 30 MB) and `git clone` of the bundle; later calls return at once. The
// source is unpacked into a temporary folder renamed into place when
// complete, so an interrupted fetch leaves nothing half-done.
//
// The package is checked against the sha512 that the table of releases
// pins for version; a version outside the table needs FetchSourcePinned.
func FetchSource(ctx context.Context, cacheDir, version string, progress func(string)) (LlamaSource, error) {
	r, ok := releases.ByRuntime(version)
	if !ok {
		return LlamaSource{}, fmt.Errorf("the llama.cpp source of %s@%s: not in speclab's table of releases, so its sha512 is not pinned", SourcePackage, version)
	}
	return FetchSourcePinned(ctx, cacheDir, version, r.Integrity[releases.PackageSource], progress)
}

// FetchSourcePinned is FetchSource for any version, checked against the
// given npm integrity ("sha512-<base64>").
func FetchSourcePinned(ctx context.Context, cacheDir, version, integrity string, progress func(string)) (LlamaSource, error) {
	if cacheDir == "" {
		var err error
		if cacheDir, err = DefaultCacheDir(); err != nil {
			return LlamaSource{}, err
		}
	}
	if progress == nil {
		progress = func(string) {}
	}
	root := filepath.Join(cacheDir, "sources")
	dest := filepath.Join(root, SourcePackage+"-"+version)
	if s, err := readSource(dest, version); err == nil {
		return s, nil
	}
	for _, tool := range []string{"npm", "git", "tar"} {
		if _, err := exec.LookPath(tool); err != nil {
			return LlamaSource{}, fmt.Errorf("fetch the llama.cpp source of %s@%s: %s is needed: %w", SourcePackage, version, tool, err)
		}
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return LlamaSource{}, fmt.Errorf("create cache folder: %w", err)
	}
	tmp, err := os.MkdirTemp(root, ".fetch-")
	if err != nil {
		return LlamaSource{}, fmt.Errorf("create download folder: %w", err)
	}
	defer os.RemoveAll(tmp)
	spec := SourcePackage + "@" + version
	progress(fmt.Sprintf("downloading %s with npm pack (its llama/gitRelease.bundle holds the llama.cpp source)", spec))
	out, err := runTool(ctx, tmp, "npm", "pack", spec, "--pack-destination", tmp, "--json", "--ignore-scripts")
	if err != nil {
		return LlamaSource{}, fmt.Errorf("npm pack %s: %w", spec, err)
	}
	var packed []struct {
		Filename string `json:"filename"`
	}
	if err := json.Unmarshal(out, &packed); err != nil || len(packed) != 1 || packed[0].Filename != filepath.Base(packed[0].Filename) {
		return LlamaSource{}, fmt.Errorf("npm pack %s: unexpected --json output: %s", spec, tail(string(out), 500))
	}
	tgz := filepath.Join(tmp, packed[0].Filename)
	if err := checkIntegrity(tgz, integrity); err != nil {
		return LlamaSource{}, fmt.Errorf("%s: %w", spec, err)
	}
	if _, err := runTool(ctx, tmp, "tar", "xzf", tgz, "--strip-components=2",
		"package/llama/gitRelease.bundle", "package/llama/binariesGithubRelease.json"); err != nil {
		return LlamaSource{}, fmt.Errorf("unpack %s: %w", tgz, err)
	}
	progress("cloning the llama.cpp source bundle")
	if _, err := runTool(ctx, tmp, "git", "clone", "-q", filepath.Join(tmp, "gitRelease.bundle"), filepath.Join(tmp, "src")); err != nil {
		return LlamaSource{}, fmt.Errorf("clone the source bundle of %s: %w", spec, err)
	}
	if err := os.Rename(filepath.Join(tmp, "binariesGithubRelease.json"), filepath.Join(tmp, "src", "binariesGithubRelease.json")); err != nil {
		return LlamaSource{}, err
	}
	if _, err := readSource(filepath.Join(tmp, "src"), version); err != nil {
		return LlamaSource{}, fmt.Errorf("%s: %w", spec, err)
	}
	if err := os.Rename(filepath.Join(tmp, "src"), dest); err != nil {
		if s, err2 := readSource(dest, version); err2 == nil {
			return s, nil // another process finished first
		}
		return LlamaSource{}, fmt.Errorf("install source: %w", err)
	}
	return readSource(dest, version)
}

// readSource checks an unpacked source folder.
func readSource(dir, version string) (LlamaSource, error) {
	data, err := os.ReadFile(filepath.Join(dir, "binariesGithubRelease.json"))
	if err != nil {
		return LlamaSource{}, err
	}
	var m struct {
		Release string `json:"release"`
	}
	if err := json.Unmarshal(data, &m); err != nil || m.Release == "" {
		return LlamaSource{}, fmt.Errorf("no llama.cpp release named in %s", dir)
	}
	s := LlamaSource{Version: version, Release: m.Release, Dir: dir}
	if _, err := os.Stat(s.Header()); err != nil {
		return LlamaSource{}, err
	}
	return s, nil
}

func runTool(ctx context.Context, dir, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		msg := strings.TrimSpace(stderr.String())
		return nil, fmt.Errorf("%s: %w: %s", name, err, tail(msg, 1000))
	}
	return stdout.Bytes(), nil
}

// checkIntegrity compares a file's sha512 with an npm integrity string.
func checkIntegrity(path, integrity string) error {
	if !strings.HasPrefix(integrity, "sha512-") {
		return fmt.Errorf("integrity %q: only sha512-<base64> is supported", integrity)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha512.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if got := "sha512-" + base64.StdEncoding.EncodeToString(h.Sum(nil)); got != integrity {
		return fmt.Errorf("integrity mismatch: expected %s, got %s (the download is corrupt or not the pinned package)", integrity, got)
	}
	return nil
}
