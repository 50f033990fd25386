package llamalib

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestLookupRuntime(t *testing.T) {
	tests := []struct {
		version, variant string
		pkg, dir         string
		err              string
	}{
		{version: "3.22.1", pkg: "@node-llama-cpp/linux-x64", dir: "linux-x64-3.22.1"},
		{version: "3.18.1", variant: "cpu", pkg: "@node-llama-cpp/linux-x64", dir: "linux-x64-3.18.1"},
		{version: "3.22.1", variant: "vulkan", pkg: "@node-llama-cpp/linux-x64-vulkan", dir: "linux-x64-vulkan-3.22.1"},
		{version: "3.9.9", err: "not in speclab's table"},
		{version: "3.22.1", variant: "cuda", err: "cpu and vulkan"},
	}
	for _, tt := range tests {
		t.Run(tt.version+"/"+tt.variant, func(t *testing.T) {
			rt, err := LookupRuntime(tt.version, tt.variant)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rt.Package != tt.pkg || !strings.HasPrefix(rt.Integrity, "sha512-") {
				t.Errorf("runtime %+v", rt)
			}
			if got := rt.Dir("/c"); got != filepath.Join("/c", "runtimes", tt.dir) {
				t.Errorf("dir %s, want %s", got, tt.dir)
			}
		})
	}
	// The pinned runtime of the table is the one speclab has always pinned.
	rt, err := LookupRuntime(DefaultVersion, "")
	if err != nil || rt != DefaultRuntime {
		t.Errorf("table's %s = %+v, %v; want %+v", DefaultVersion, rt, err, DefaultRuntime)
	}
}
