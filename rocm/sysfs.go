package rocm

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// sysRoot is where sysfs is read from (tests point it elsewhere).
var sysRoot = "/sys"

// amdSysfs fills what the KFD topology and the amdgpu driver say of the
// i-th GPU node: the gfx target, compute units, clock, and the memory
// split of an APU (VRAM carve-out against GTT).
func amdSysfs(d *Device, i int) {
	nodes, _ := filepath.Glob(filepath.Join(sysRoot, "class/kfd/kfd/topology/nodes/*/properties"))
	gpu := 0
	for _, props := range nodes {
		p := readProps(props)
		if p["simd_count"] == 0 { // a CPU node
			continue
		}
		if gpu++; gpu-1 != i {
			continue
		}
		if v := p["gfx_target_version"]; v > 0 {
			d.Arch = gfxName(v)
		}
		if p["simd_per_cu"] > 0 {
			d.ComputeUnits = int(p["simd_count"] / p["simd_per_cu"])
		}
		d.ClockMHz = int(p["max_engine_clk_fcompute"])
		d.Integrated = p["cpu_cores_count"] > 0 // an APU: CPU cores and SIMDs on one node
	}
	cards, _ := filepath.Glob(filepath.Join(sysRoot, "class/drm/card*/device/mem_info_vram_total"))
	if i < len(cards) {
		dev := filepath.Dir(cards[i])
		d.VRAMBytes = readUint(filepath.Join(dev, "mem_info_vram_total"))
		d.GTTBytes = readUint(filepath.Join(dev, "mem_info_gtt_total"))
	}
}

// gfxName turns KFD's gfx_target_version (110501) into its target name
// (gfx1151): major·10000 + minor·100 + stepping, minor and stepping hex.
func gfxName(v uint64) string {
	return fmt.Sprintf("gfx%d%x%x", v/10000, v/100%100, v%100)
}

func readProps(path string) map[string]uint64 {
	data, err := os.ReadFile(path)
	out := map[string]uint64{}
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), " "); ok {
			if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
				out[k] = n
			}
		}
	}
	return out
}

func readUint(path string) uint64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	return n
}
