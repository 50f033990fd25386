package main

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// tensor is one weight read from the training script's output, as float32.
type tensor struct {
	Shape []int // PyTorch order: [out, in] for matrices
	Data  []float32
}

// readParts concatenates dir/STEM.st.gz.00, .01, ... (the training
// script's output, split to fit the device's transfer limits).
func readParts(dir, stem string) ([]byte, error) {
	parts, err := filepath.Glob(filepath.Join(dir, stem+".st.gz.[0-9][0-9]"))
	if err != nil {
		return nil, fmt.Errorf("read %s weights: %w", stem, err)
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("read %s weights: no %s.st.gz.NN files in %s", stem, stem, dir)
	}
	slices.Sort(parts)
	var buf bytes.Buffer
	for i, p := range parts {
		if want := fmt.Sprintf("%s.st.gz.%02d", stem, i); filepath.Base(p) != want {
			return nil, fmt.Errorf("read %s weights: part %s is missing", stem, want)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read %s weights: %w", stem, err)
		}
		buf.Write(b)
	}
	zr, err := gzip.NewReader(&buf)
	if err != nil {
		return nil, fmt.Errorf("read %s weights: %w", stem, err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("read %s weights: %w", stem, err)
	}
	return raw, nil
}

// parseSafetensors decodes a safetensors file holding F32 and BF16
// tensors.
func parseSafetensors(raw []byte) (map[string]tensor, map[string]string, error) {
	if len(raw) < 8 {
		return nil, nil, fmt.Errorf("safetensors: %d bytes is too short", len(raw))
	}
	n := binary.LittleEndian.Uint64(raw)
	if n > uint64(len(raw)-8) {
		return nil, nil, fmt.Errorf("safetensors: header of %d bytes in a file of %d", n, len(raw))
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(raw[8:8+n], &header); err != nil {
		return nil, nil, fmt.Errorf("safetensors header: %w", err)
	}
	data := raw[8+n:]
	out := make(map[string]tensor, len(header))
	var meta map[string]string
	for name, msg := range header {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &meta); err != nil {
				return nil, nil, fmt.Errorf("safetensors metadata: %w", err)
			}
			continue
		}
		var h struct {
			Dtype   string   `json:"dtype"`
			Shape   []int    `json:"shape"`
			Offsets [2]int64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(msg, &h); err != nil {
			return nil, nil, fmt.Errorf("safetensors tensor %s: %w", name, err)
		}
		count := 1
		for _, d := range h.Shape {
			if d <= 0 {
				return nil, nil, fmt.Errorf("safetensors tensor %s: shape %v", name, h.Shape)
			}
			count *= d
		}
		b0, b1 := h.Offsets[0], h.Offsets[1]
		if b0 < 0 || b1 < b0 || b1 > int64(len(data)) {
			return nil, nil, fmt.Errorf("safetensors tensor %s: offsets %v outside %d bytes", name, h.Offsets, len(data))
		}
		b := data[b0:b1]
		t := tensor{Shape: h.Shape, Data: make([]float32, count)}
		switch strings.ToUpper(h.Dtype) {
		case "F32":
			if len(b) != 4*count {
				return nil, nil, fmt.Errorf("safetensors tensor %s: %d bytes for %d F32 values", name, len(b), count)
			}
			for i := range t.Data {
				t.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			}
		case "BF16":
			if len(b) != 2*count {
				return nil, nil, fmt.Errorf("safetensors tensor %s: %d bytes for %d BF16 values", name, len(b), count)
			}
			for i := range t.Data {
				t.Data[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
			}
		default:
			return nil, nil, fmt.Errorf("safetensors tensor %s: dtype %s is not F32 or BF16", name, h.Dtype)
		}
		out[name] = t
	}
	return out, meta, nil
}
