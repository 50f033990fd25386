package terms

// JSONSchema names the vocabulary of every --json output of speclab and of
// the report's summary.json, in its "schema" key: snake_case keys, type
// names as text (MXFP4, BPE), null for what is undefined, speeds as
// tokens_per_second, metrics under the names of this package's table. It
// changes when a key changes meaning or goes away.
const JSONSchema = "speclab/1"
