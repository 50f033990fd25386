package llamah_test

import (
	"fmt"
	"log"

	"github.com/speclab/speclab/engine/llamah"
)

// The layout of a struct and the ABI of a function, from header text.
func ExampleParse() {
	h, err := llamah.Parse("llama.h", []byte(`
		typedef int32_t llama_token;
		struct llama_batch {
			int32_t       n_tokens;
			llama_token * token;
			float       * embd;
			int8_t      * logits;
		};
		LLAMA_API int32_t llama_decode(struct llama_context * ctx, struct llama_batch batch);
	`))
	if err != nil {
		log.Fatal(err)
	}
	r, _ := h.Record("llama_batch")
	for _, f := range r.Fields {
		fmt.Printf("%-8s @%-2d %d bytes\n", f.Name, f.Offset, f.Type.Size)
	}
	fmt.Println("size", r.Size)
	fmt.Println("llama_decode", h.Functions["llama_decode"].Sig.ABI())
	// Output:
	// n_tokens @0  4 bytes
	// token    @8  8 bytes
	// embd     @16 8 bytes
	// logits   @24 8 bytes
	// size 32
	// llama_decode i32(ptr,struct llama_batch)
}
