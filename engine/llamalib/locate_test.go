package llamalib

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// touch creates the file root/rel (and its folders).
func touch(t *testing.T, root, rel string) string {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(rel), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func symlink(t *testing.T, root, target, rel string) {
	t.Helper()
	if err := os.Symlink(target, filepath.Join(root, rel)); err != nil {
		t.Fatal(err)
	}
}

func TestLocate(t *testing.T) {
	tests := []struct {
		name string
		// setup builds files under root and returns the flag and env values
		// ("" for none), with "ROOT" standing for root.
		setup      func(t *testing.T, root string)
		flag, env  string
		cache      bool   // install a runtime into the cache first
		wantLib    string // relative to root ("CACHE" for the cache runtime's lib)
		wantSource Source
		wantErr    []string
		wantIs     error
		wantNotIs  error
	}{
		{
			name:       "flag names a file",
			setup:      func(t *testing.T, r string) { touch(t, r, "lib/custom-llama.so") },
			flag:       "ROOT/lib/custom-llama.so",
			wantLib:    "lib/custom-llama.so",
			wantSource: SourceFlag,
		},
		{
			name: "flag folder prefers libllama.so",
			setup: func(t *testing.T, r string) {
				touch(t, r, "bin/libllama.so")
				touch(t, r, "bin/libllama.so.1")
				touch(t, r, "bin/libllama.v2.so")
			},
			flag:       "ROOT/bin",
			wantLib:    "bin/libllama.so",
			wantSource: SourceFlag,
		},
		{
			name: "folder with the npm runtime layout",
			setup: func(t *testing.T, r string) {
				touch(t, r, "bins/libllama.v0.5.0.so")
				touch(t, r, "bins/libllama-common.so")
				touch(t, r, "bins/libggml-base.so")
			},
			flag:       "ROOT/bins/",
			wantLib:    "bins/libllama.v0.5.0.so",
			wantSource: SourceFlag,
		},
		{
			name: "soname symlinks count once",
			setup: func(t *testing.T, r string) {
				touch(t, r, "b/libllama.so.0.0.4567")
				symlink(t, r, "libllama.so.0.0.4567", "b/libllama.so.0")
			},
			flag:       "ROOT/b",
			wantLib:    "b/libllama.so.0",
			wantSource: SourceFlag,
		},
		{
			name: "ambiguous folder",
			setup: func(t *testing.T, r string) {
				touch(t, r, "b/libllama.so.1")
				touch(t, r, "b/libllama.v2.so")
			},
			flag:    "ROOT/b",
			wantErr: []string{"several", "libllama.so.1", "libllama.v2.so", "--llama-lib"},
		},
		{
			name: "two releases in one folder",
			setup: func(t *testing.T, r string) {
				touch(t, r, "b/libllama.b8390.so")
				touch(t, r, "b/libllama.v0.5.0.so")
			},
			flag:    "ROOT/b",
			wantErr: []string{"several", "libllama.b8390.so", "libllama.v0.5.0.so"},
		},
		{
			name: "a release with copies under .so.N names (3.15.0)",
			setup: func(t *testing.T, r string) {
				touch(t, r, "b/libllama.b7698.so")
				touch(t, r, "b/libllama.b7698.so.0")
				touch(t, r, "b/libllama.b7698.so.0.0.1")
				touch(t, r, "b/libllama-common.so")
			},
			flag:       "ROOT/b",
			wantLib:    "b/libllama.b7698.so",
			wantSource: SourceFlag,
		},
		{
			name:       "the Vulkan runtime's name",
			setup:      func(t *testing.T, r string) { touch(t, r, "b/libllama.vulkan.v0.5.0.so") },
			flag:       "ROOT/b",
			wantLib:    "b/libllama.vulkan.v0.5.0.so",
			wantSource: SourceFlag,
		},
		{
			name: "folder without libllama",
			setup: func(t *testing.T, r string) {
				touch(t, r, "b/libggml.so")
				touch(t, r, "b/libllama-common.so")
				if err := os.Mkdir(filepath.Join(r, "b", "libllama.so"), 0o755); err != nil {
					t.Fatal(err)
				}
			},
			env:     "ROOT/b",
			wantErr: []string{"no libllama", EnvLib},
		},
		{
			name:      "flag path missing",
			cache:     true,
			flag:      "ROOT/nope/libllama.so",
			wantErr:   []string{"--llama-lib", "nope/libllama.so"},
			wantIs:    fs.ErrNotExist,
			wantNotIs: ErrNotFound,
		},
		{
			name:      "env path missing",
			cache:     true,
			env:       "ROOT/gone",
			wantErr:   []string{EnvLib, "gone"},
			wantIs:    fs.ErrNotExist,
			wantNotIs: ErrNotFound,
		},
		{
			name:       "env",
			setup:      func(t *testing.T, r string) { touch(t, r, "env/libllama.so") },
			cache:      true,
			env:        "ROOT/env",
			wantLib:    "env/libllama.so",
			wantSource: SourceEnv,
		},
		{
			name: "flag beats env",
			setup: func(t *testing.T, r string) {
				touch(t, r, "flag/libllama.so")
				touch(t, r, "env/libllama.so")
			},
			flag:       "ROOT/flag",
			env:        "ROOT/env",
			wantLib:    "flag/libllama.so",
			wantSource: SourceFlag,
		},
		{
			name:       "cache",
			cache:      true,
			wantLib:    "CACHE",
			wantSource: SourceCache,
		},
		{
			name:    "nothing",
			wantErr: []string{"speclab setup", "--llama-lib", EnvLib, "npm", "build/bin", "GGML_HIP"},
			wantIs:  ErrNotFound,
		},
		{
			name: "cache folder without marker",
			setup: func(t *testing.T, r string) {
				touch(t, r, "cache/runtimes/linux-x64-"+DefaultVersion+"/libllama.v0.5.0.so")
			},
			wantErr: []string{"incomplete", "speclab setup"},
			wantIs:  ErrNotFound,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			cache := filepath.Join(root, "cache")
			if tt.setup != nil {
				tt.setup(t, root)
			}
			cacheLib := ""
			if tt.cache {
				tgz, integrity := makeTgz(t, runtimeEntries)
				var err error
				if cacheLib, err = InstallTarball(tgz, integrity, InstallOptions{CacheDir: cache}); err != nil {
					t.Fatal(err)
				}
			}
			expand := func(s string) string { return strings.ReplaceAll(s, "ROOT", root) }
			t.Setenv(EnvLib, expand(tt.env))

			loc, err := Locate(expand(tt.flag), cache)
			if tt.wantErr != nil || tt.wantIs != nil {
				if err == nil {
					t.Fatalf("Locate = %+v, want an error", loc)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
				if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
					t.Errorf("error %v is not %v", err, tt.wantIs)
				}
				if tt.wantNotIs != nil && errors.Is(err, tt.wantNotIs) {
					t.Errorf("error %v should not be %v", err, tt.wantNotIs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := filepath.Join(root, tt.wantLib)
			if tt.wantLib == "CACHE" {
				want = cacheLib
			}
			if loc.Lib != want || loc.Dir != filepath.Dir(want) || loc.Source != tt.wantSource {
				t.Errorf("Locate = %+v, want Lib %s, Dir %s, Source %s", loc, want, filepath.Dir(want), tt.wantSource)
			}
			if !filepath.IsAbs(loc.Lib) {
				t.Errorf("Lib %s is not absolute", loc.Lib)
			}
		})
	}
}

func TestLocateRelativeFlag(t *testing.T) {
	root := t.TempDir()
	touch(t, root, "bin/libllama.so")
	t.Chdir(root)
	t.Setenv(EnvLib, "")
	loc, err := Locate("bin", filepath.Join(root, "cache"))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "bin", "libllama.so"); loc.Lib != want {
		t.Errorf("Lib = %s, want %s", loc.Lib, want)
	}
}
