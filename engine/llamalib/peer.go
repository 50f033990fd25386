package llamalib

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The peer: llama.cpp's own tools of the pinned release, built from the
// same source as the runtime (the sha512-pinned git bundle of
// node-llama-cpp@DefaultVersion), CPU only, so that speclab can be measured
// against llama-server and llama-speculative-simple on the same models.

// PeerTools are the programs BuildPeer builds.
var PeerTools = []string{"llama-server", "llama-speculative-simple", "llama-completion"}

// peerFlags configure the build: CPU only, no network code, static
// binaries, tuned to this machine (GGML_NATIVE), where it runs side by side
// with the runtime, whose ggml picks the best CPU variant it has. OpenMP is
// off because the runtime's libggml-cpu is built without it (it links no
// libgomp): both then run ggml's own threadpool, and a comparison at
// several threads measures speclab, not two threading libraries.
var peerFlags = []string{
	"-DCMAKE_BUILD_TYPE=Release", "-DGGML_NATIVE=ON", "-DBUILD_SHARED_LIBS=OFF", "-DGGML_OPENMP=OFF",
	"-DLLAMA_CURL=OFF", "-DLLAMA_OPENSSL=OFF", "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=ON",
	"-DLLAMA_BUILD_SERVER=ON", "-DGGML_CPU_ALL_VARIANTS=OFF", "-DGGML_BACKEND_DL=OFF",
}

const peerMarker = "speclab-peer.json"

type peerInfo struct {
	Version string    `json:"version"` // node-llama-cpp version of the source
	Release string    `json:"release"` // llama.cpp release
	Flags   []string  `json:"cmake_flags"`
	Tools   []string  `json:"tools"`
	Built   time.Time `json:"built"`
}

// Peer is a built set of llama.cpp tools.
type Peer struct {
	Release string // llama.cpp release, e.g. "v0.5.0"
	BinDir  string // the folder of the binaries
}

// Tool is the path of one of PeerTools.
func (p Peer) Tool(name string) string { return filepath.Join(p.BinDir, name) }

// BuildPeer makes sure llama.cpp's PeerTools of the pinned release are built
// under cacheDir ("" means DefaultCacheDir()) and returns them. The first
// call fetches the source (FetchSource, about 30 MB) and builds with cmake
// and the C++ compiler (minutes); later calls return at once. The build
// runs in a temporary folder renamed into place when complete.
func BuildPeer(ctx context.Context, cacheDir string, progress func(string)) (Peer, error) {
	if cacheDir == "" {
		var err error
		if cacheDir, err = DefaultCacheDir(); err != nil {
			return Peer{}, err
		}
	}
	if progress == nil {
		progress = func(string) {}
	}
	src, err := FetchSource(ctx, cacheDir, DefaultVersion, progress)
	if err != nil {
		return Peer{}, err
	}
	root := filepath.Join(cacheDir, "peer")
	dest := filepath.Join(root, "llama.cpp-"+src.Release)
	if p, err := readPeer(dest, src.Release); err == nil {
		return p, nil
	}
	for _, tool := range []string{"cmake", "c++"} {
		if _, err := exec.LookPath(tool); err != nil {
			return Peer{}, fmt.Errorf("building llama.cpp's tools needs cmake and a C++ compiler (Debian: apt-get install cmake g++): %s: %w", tool, err)
		}
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return Peer{}, err
	}
	tmp, err := os.MkdirTemp(root, ".build-")
	if err != nil {
		return Peer{}, err
	}
	defer os.RemoveAll(tmp)
	progress(fmt.Sprintf("configuring llama.cpp %s (CPU only) in %s", src.Release, tmp))
	if _, err := runTool(ctx, tmp, "cmake", append([]string{"-S", src.Dir, "-B", tmp}, peerFlags...)...); err != nil {
		return Peer{}, fmt.Errorf("configure llama.cpp: %w", err)
	}
	progress(fmt.Sprintf("building %v with %d jobs (several minutes on 2 cores)", PeerTools, runtime.NumCPU()))
	args := []string{"--build", tmp, "-j", strconv.Itoa(runtime.NumCPU()), "--target"}
	if err := runBuild(ctx, tmp, append(args, PeerTools...), progress); err != nil {
		return Peer{}, fmt.Errorf("build llama.cpp: %w", err)
	}
	info, _ := json.MarshalIndent(peerInfo{Version: DefaultVersion, Release: src.Release, Flags: peerFlags, Tools: PeerTools, Built: time.Now().UTC()}, "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, peerMarker), info, 0o644); err != nil {
		return Peer{}, err
	}
	if _, err := readPeer(tmp, src.Release); err != nil {
		return Peer{}, fmt.Errorf("build llama.cpp: %w", err)
	}
	// The build folder holds absolute paths of itself (CMake's cache); the
	// binaries are static, so a rename does not break them. A stale build
	// (other flags, or incomplete) gives way, unless a concurrent build has
	// just put a good one there.
	if p, err := readPeer(dest, src.Release); err == nil {
		return p, nil
	}
	if err := os.RemoveAll(dest); err != nil {
		return Peer{}, fmt.Errorf("remove the stale build %s: %w", dest, err)
	}
	if err := os.Rename(tmp, dest); err != nil {
		if p, err2 := readPeer(dest, src.Release); err2 == nil {
			return p, nil
		}
		return Peer{}, fmt.Errorf("install the built tools: %w", err)
	}
	return readPeer(dest, src.Release)
}

func readPeer(dir, release string) (Peer, error) {
	data, err := os.ReadFile(filepath.Join(dir, peerMarker))
	if err != nil {
		return Peer{}, err
	}
	var info peerInfo
	if err := json.Unmarshal(data, &info); err != nil || info.Release != release {
		return Peer{}, fmt.Errorf("%s: not a build of %s", dir, release)
	}
	if !slices.Equal(info.Flags, peerFlags) {
		return Peer{}, fmt.Errorf("%s: built with other flags %v", dir, info.Flags)
	}
	p := Peer{Release: release, BinDir: filepath.Join(dir, "bin")}
	for _, t := range PeerTools {
		if st, err := os.Stat(p.Tool(t)); err != nil || st.Mode()&0o111 == 0 {
			return Peer{}, fmt.Errorf("%s: no %s", dir, t)
		}
	}
	return p, nil
}

// percent matches the progress of CMake's Makefile generator: "[ 42%] ...".
var percent = regexp.MustCompile(`^\[\s*(\d+)%\]`)

// runBuild runs `cmake args...`, reporting every tenth percent of the
// build, and keeps the last lines of its output for the error.
func runBuild(ctx context.Context, dir string, args []string, progress func(string)) error {
	cmd := exec.CommandContext(ctx, "cmake", args...)
	cmd.Dir = dir
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return err
	}
	var last []string
	shown := -10
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		last = append(last, line)
		if len(last) > 30 {
			last = last[1:]
		}
		if m := percent.FindStringSubmatch(line); m != nil {
			if p, _ := strconv.Atoi(m[1]); p >= shown+10 {
				shown = p - p%10
				progress(fmt.Sprintf("  %d%%", p))
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("cmake --build: %w:\n%s", err, strings.Join(last, "\n"))
	}
	return nil
}
