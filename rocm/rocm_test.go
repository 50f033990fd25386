package rocm

import (
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The seed's own figures: a ~14 GB FP4 27B decoding at 13.8 tok/s on a
// Strix Halo with ~212 GB/s measured reads ~193 GB/s: memory-bound, at
// about 90% of the bandwidth.
func TestRooflineSeed(t *testing.T) {
	r := NewRoofline(212, 14e9)
	if u := r.Utilisation(13.8); math.Abs(u-0.911) > 0.005 {
		t.Errorf("utilisation %.3f, want 0.911", u)
	}
	if math.Abs(r.CeilingTPS-15.14) > 0.01 {
		t.Errorf("ceiling %.2f tok/s, want 15.14", r.CeilingTPS)
	}
	// Speculation on that device: α 0.8, γ 3, verify at the cost of one
	// step, a 0.5 GB draft: E = 2.952 tokens per 14 + 1.5 GB read.
	got := r.SpeculativeCeiling(0.8, 3, 1, 0.5e9)
	if want := 2.952 * 212e9 / 15.5e9; math.Abs(got-want) > 0.01 {
		t.Errorf("speculative ceiling %.2f, want %.2f", got, want)
	}
	if kv := KVBytesPerToken(64, 4, 128, 2, 4096); kv != 64*2*4*128*2*4096 {
		t.Errorf("KV bytes %v", kv)
	}
	if !math.IsNaN(NewRoofline(0, 14e9).CeilingTPS) {
		t.Error("a ceiling without bandwidth")
	}
}

func TestGfxName(t *testing.T) {
	for v, want := range map[uint64]string{110501: "gfx1151", 90400: "gfx940", 100300: "gfx1030", 90010: "gfx90a"} {
		if got := gfxName(v); got != want {
			t.Errorf("gfx_target_version %d: %s, want %s", v, got, want)
		}
	}
}

// An APU's KFD node has CPU cores and SIMDs; amdgpu says how its memory is
// split.
func TestAMDSysfs(t *testing.T) {
	root := t.TempDir()
	write := func(path, text string) {
		p := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("class/kfd/kfd/topology/nodes/0/properties", "cpu_cores_count 16\nsimd_count 0\n")
	write("class/kfd/kfd/topology/nodes/1/properties", "cpu_cores_count 16\nsimd_count 80\nsimd_per_cu 2\nmax_engine_clk_fcompute 2900\ngfx_target_version 110501\n")
	write("class/drm/card1/device/mem_info_vram_total", "536870912\n")
	write("class/drm/card1/device/mem_info_gtt_total", "103079215104\n")
	old := sysRoot
	sysRoot = root
	defer func() { sysRoot = old }()
	var d Device
	amdSysfs(&d, 0)
	want := Device{Arch: "gfx1151", ComputeUnits: 40, ClockMHz: 2900, Integrated: true, VRAMBytes: 512 << 20, GTTBytes: 96 << 30}
	if d != want {
		t.Errorf("sysfs: %+v, want %+v", d, want)
	}
	if k, ok := Lookup("AMD Radeon Graphics", d.Arch); !ok || k.ComputeUnits != 40 || k.MeasuredGBs != 212 {
		t.Errorf("known device of gfx1151: %+v %v", k, ok)
	}
}

// A missing runtime is a one-line error that says what to install.
func TestMissingRuntime(t *testing.T) {
	for _, tc := range []struct {
		open func(string) (GPU, error)
		want string
	}{{OpenHIP, "apt install libamdhip64-5"}, {OpenCUDA, "libcudart"}} {
		_, err := tc.open(t.TempDir())
		if !errors.Is(err, ErrNoRuntime) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("open from an empty folder: %v, want ErrNoRuntime naming %q on one line", err, tc.want)
		}
	}
}

// Debian's libamdhip64-5 (ROCm 5.2, unpacked by `make hip`) loads on a
// machine without an AMD GPU and says there is no device. The loader reads
// LD_LIBRARY_PATH at start, so the test runs itself again with it set.
func TestHIPNoDevice(t *testing.T) {
	if os.Getenv("SPECLAB_HIP_CHILD") == "1" {
		g, err := OpenHIP("")
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer g.Close()
		if v := g.(*runtime).Version(); v < 50000000 {
			t.Errorf("HIP runtime version %d", v)
		}
		ds, err := g.Devices()
		if !errors.Is(err, ErrNoDevice) || len(ds) != 0 {
			t.Fatalf("devices %v, error %v: want ErrNoDevice", ds, err)
		}
		t.Logf("HIP %d: %v", g.(*runtime).Version(), err)
		return
	}
	dir := os.Getenv("SPECLAB_HIP_DIR")
	if dir == "" {
		if os.Getenv("SPECLAB_REQUIRE_LLAMA") == "1" {
			t.Fatal("SPECLAB_HIP_DIR is not set: run the tests with make test (make hip unpacks Debian's HIP runtime)")
		}
		t.Skip("SPECLAB_HIP_DIR not set (make hip)")
	}
	if _, err := os.Stat(filepath.Join(dir, "libamdhip64.so.5")); err != nil {
		t.Fatalf("SPECLAB_HIP_DIR: %v", err)
	}
	if _, err := os.Stat("/dev/kfd"); err == nil {
		t.Skip("this machine has an AMD GPU (/dev/kfd): the no-device path cannot be tested here")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHIPNoDevice$", "-test.v")
	cmd.Env = append(os.Environ(), "SPECLAB_HIP_CHILD=1", "LD_LIBRARY_PATH="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

func TestCPUBandwidth(t *testing.T) {
	gbs := CPUBandwidth(32<<20, 0, 3)
	if !(gbs > 0) || math.IsInf(gbs, 0) {
		t.Fatalf("CPU bandwidth %v GB/s", gbs)
	}
	t.Logf("%.1f GB/s", gbs)
}

// On a machine with an NVIDIA GPU (the device machine; not CI): the CUDA
// path lists it and measures its bandwidth.
func TestCUDA(t *testing.T) {
	g, err := OpenCUDA(os.Getenv("SPECLAB_CUDA_DIR"))
	if errors.Is(err, ErrNoRuntime) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ds, err := g.Devices()
	if errors.Is(err, ErrNoDevice) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.Name == "" || d.TotalBytes == 0 || d.ComputeUnits == 0 {
			t.Errorf("device %+v", d)
		}
		gbs, err := g.Bandwidth(d.Index, 256<<20, 5)
		if err != nil || !(gbs > 0) {
			t.Errorf("bandwidth of %s: %v, %v", d.Name, gbs, err)
		}
		t.Logf("%+v: %.0f GB/s (theoretical %.0f)", d, gbs, d.TheoreticalGBs())
	}
}
