package llamah

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Header is what a llama.h declares.
type Header struct {
	File       string
	Records    map[string]*Record   // struct and union definitions by tag
	Typedefs   map[string]*Type     // typedef names
	Enums      map[string]*EnumDef  // enum definitions by tag
	Constants  map[string]int64     // enumerators and integer #defines
	Functions  map[string]*Function // prototypes by name
	Defines    map[string]string    // every object-like #define, unexpanded
	incomplete map[string]*Type     // struct and union tags declared but not (yet) defined
}

// ParseFile reads and parses the header at path.
func ParseFile(path string) (*Header, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	return Parse(path, src)
}

// Parse parses the text of a llama.h. name is used in error messages.
func Parse(name string, src []byte) (*Header, error) {
	h := &Header{
		File:       name,
		Records:    map[string]*Record{},
		Typedefs:   map[string]*Type{},
		Enums:      map[string]*EnumDef{},
		Constants:  map[string]int64{},
		Functions:  map[string]*Function{},
		Defines:    map[string]string{},
		incomplete: map[string]*Type{},
	}
	for k, v := range externalConstants {
		h.Constants[k] = v
	}
	var defLines []string
	toks, err := lex(name, string(src), func(n, v string, line int) {
		h.Defines[n] = v
		defLines = append(defLines, n)
	})
	if err != nil {
		return nil, err
	}
	// Integer #defines, which array sizes and enumerators may name. A
	// define that is not an integer expression is kept only as text.
	for _, n := range defLines {
		if v, ok := evalText(h.Defines[n], h.Constants); ok {
			h.Constants[n] = v
		}
	}
	p := &parser{h: h, toks: unwrapDeprecated(toks)}
	if err := p.file(); err != nil {
		return nil, err
	}
	return h, nil
}

// Record returns the struct called name (its tag or a typedef of it).
func (h *Header) Record(name string) (*Record, bool) {
	if r, ok := h.Records[name]; ok {
		return r, true
	}
	if t, ok := h.Typedefs[name]; ok && t.Kind == Struct && t.Rec != nil {
		return t.Rec, true
	}
	return nil, false
}

// FunctionNames lists the declared functions, sorted.
func (h *Header) FunctionNames() []string {
	names := make([]string, 0, len(h.Functions))
	for n := range h.Functions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// deprecatedMark replaces DEPRECATED( in the token stream: the declaration
// that follows is marked deprecated.
const deprecatedMark = "\x00deprecated"

// unwrapDeprecated rewrites DEPRECATED(decl, "hint") into a mark followed
// by decl.
func unwrapDeprecated(toks []token) []token {
	out := make([]token, 0, len(toks))
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.kind != tIdent || t.text != "DEPRECATED" || i+1 >= len(toks) || toks[i+1].text != "(" {
			out = append(out, t)
			continue
		}
		// Find the matching ')' and the last comma at depth 1.
		depth, lastComma, end := 0, -1, -1
		for j := i + 1; j < len(toks); j++ {
			switch toks[j].text {
			case "(":
				depth++
			case ")":
				depth--
			case ",":
				if depth == 1 {
					lastComma = j
				}
			}
			if depth == 0 {
				end = j
				break
			}
		}
		if end < 0 || lastComma < 0 {
			out = append(out, t)
			continue
		}
		out = append(out, token{tIdent, deprecatedMark, t.line})
		out = append(out, toks[i+2:lastComma]...)
		i = end
	}
	return out
}

type parser struct {
	h    *Header
	toks []token
	pos  int
}

func (p *parser) peek() token        { return p.toks[p.pos] }
func (p *parser) peekAt(k int) token { return p.toks[min(p.pos+k, len(p.toks)-1)] }
func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}
func (p *parser) is(text string) bool { t := p.peek(); return t.kind != tString && t.text == text }

func (p *parser) errf(t token, format string, args ...any) error {
	return &Error{File: p.h.File, Line: t.line, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) expect(text string) (token, error) {
	t := p.next()
	if t.text != text || t.kind == tString {
		return t, p.errf(t, "expected %q, found %s", text, t)
	}
	return t, nil
}

// file parses top-level declarations until the end.
func (p *parser) file() error {
	depth := 0 // extern "C" { ... } blocks
	for {
		t := p.peek()
		switch {
		case t.kind == tEOF:
			if depth > 0 {
				return p.errf(t, "unclosed extern \"C\" block")
			}
			return nil
		case t.text == "extern" && p.peekAt(1).kind == tString:
			p.next()
			p.next()
			if p.is("{") {
				p.next()
				depth++
			}
		case t.text == "}" && depth > 0:
			p.next()
			depth--
		case t.text == ";":
			p.next()
		default:
			if err := p.declaration(); err != nil {
				return err
			}
		}
	}
}

// specifiers is the start of a declaration.
type specifiers struct {
	typedef    bool
	deprecated bool
	base       *Type
	line       int
}

// skipAttributes skips __attribute__((...)) and similar decorations.
func (p *parser) skipAttributes() error {
	for {
		t := p.peek()
		switch t.text {
		case "LLAMA_API", "GGML_API", "GGML_CALL", "__cdecl", "__declspec":
			p.next()
			if t.text == "__declspec" {
				if err := p.skipParens(); err != nil {
					return err
				}
			}
		case "__attribute__":
			p.next()
			if err := p.skipParens(); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

func (p *parser) skipParens() error {
	open, err := p.expect("(")
	if err != nil {
		return err
	}
	for depth := 1; depth > 0; {
		t := p.next()
		switch {
		case t.kind == tEOF:
			return p.errf(open, "unclosed parenthesis")
		case t.text == "(":
			depth++
		case t.text == ")":
			depth--
		}
	}
	return nil
}

// declSpecifiers parses storage classes, qualifiers and the base type.
func (p *parser) declSpecifiers() (specifiers, error) {
	s := specifiers{line: p.peek().line}
	var words []string // builtin type words: unsigned, long, int, ...
	for {
		if err := p.skipAttributes(); err != nil {
			return s, err
		}
		t := p.peek()
		if t.kind != tIdent {
			break
		}
		switch t.text {
		case deprecatedMark:
			s.deprecated = true
			p.next()
			continue
		case "typedef":
			s.typedef = true
			p.next()
			continue
		case "const", "volatile", "restrict", "__restrict", "static", "inline", "extern", "register":
			p.next()
			continue
		case "signed", "unsigned", "short", "long", "int", "char", "float", "double", "void", "bool", "_Bool":
			if s.base != nil {
				return s, p.errf(t, "unexpected %q after the type %s (missing ';'?)", t.text, s.base.Name)
			}
			words = append(words, t.text)
			p.next()
			continue
		case "struct", "union", "enum":
			if s.base != nil || len(words) > 0 {
				return s, p.errf(t, "%q after a type", t.text)
			}
			spec := p.recordSpecifier
			if t.text == "enum" {
				spec = p.enumSpecifier
			}
			b, err := spec()
			if err != nil {
				return s, err
			}
			s.base = b
			continue
		}
		if s.base != nil || len(words) > 0 {
			break // the declarator's name
		}
		// A typedef name, a fixed-width builtin or an external type.
		b, err := p.namedType(t)
		if err != nil {
			return s, err
		}
		p.next()
		s.base = b
	}
	if len(words) > 0 {
		b, err := builtinWords(words)
		if err != nil {
			return s, p.errf(p.peek(), "%v", err)
		}
		s.base = b
	}
	if s.base == nil {
		return s, p.errf(p.peek(), "expected a type, found %s", p.peek())
	}
	return s, nil
}

// builtinWords turns "unsigned long int" and the like into a type.
func builtinWords(words []string) (*Type, error) {
	var signed, unsigned bool
	longs, shorts := 0, 0
	base := ""
	for _, w := range words {
		switch w {
		case "signed":
			signed = true
		case "unsigned":
			unsigned = true
		case "long":
			longs++
		case "short":
			shorts++
		case "int":
			if base == "" {
				base = "int"
			}
		default:
			if base != "" && base != "int" {
				return nil, fmt.Errorf("bad type %q", strings.Join(words, " "))
			}
			base = w
		}
	}
	name := base
	switch {
	case shorts > 0:
		name = "short"
	case longs == 1 && base != "double":
		name = "long"
	case longs >= 2:
		name = "long long"
	case base == "" || base == "int":
		name = "int"
	}
	if base == "double" && longs > 0 {
		return nil, fmt.Errorf("long double is not supported")
	}
	if unsigned {
		name = "unsigned " + name
	} else if signed && name == "char" {
		name = "signed char"
	}
	b, ok := builtins[name]
	if !ok {
		return nil, fmt.Errorf("bad type %q", strings.Join(words, " "))
	}
	b.Name = strings.Join(words, " ")
	return &b, nil
}

// namedType resolves an identifier used as a type.
func (p *parser) namedType(t token) (*Type, error) {
	if td, ok := p.h.Typedefs[t.text]; ok {
		return td, nil
	}
	if b, ok := builtins[t.text]; ok {
		b.Name = t.text
		return &b, nil
	}
	if externalPointers[t.text] {
		return &Type{Kind: Pointer, Name: t.text, Size: 8, Align: 8, Elem: &Type{Kind: Void, Name: "void", Align: 1}}, nil
	}
	if externalStructs[t.text] {
		return &Type{Kind: Struct, Name: t.text, Align: 1}, nil
	}
	return nil, p.errf(t, "unknown type name %q", t.text)
}

// recordSpecifier parses "struct TAG", "struct TAG { ... }" or an anonymous
// "struct { ... }" (or union).
func (p *parser) recordSpecifier() (*Type, error) {
	kw := p.next()
	union := kw.text == "union"
	tag := ""
	if p.peek().kind == tIdent {
		tag = p.next().text
	}
	spelling := kw.text + " " + tag
	if !p.is("{") {
		if tag == "" {
			return nil, p.errf(kw, "anonymous %s without a body", kw.text)
		}
		if r, ok := p.h.Records[tag]; ok {
			return recordType(spelling, r), nil
		}
		if t, ok := p.h.incomplete[tag]; ok {
			return t, nil
		}
		t := &Type{Kind: Struct, Name: spelling, Align: 1}
		p.h.incomplete[tag] = t
		return t, nil
	}
	open := p.next()
	r := &Record{Name: tag, Union: union, Line: open.line}
	for !p.is("}") {
		if p.peek().kind == tEOF {
			return nil, p.errf(open, "unclosed %s body", kw.text)
		}
		if err := p.member(r); err != nil {
			return nil, err
		}
	}
	p.next()
	if err := layout(r); err != nil {
		return nil, p.errf(open, "%s %s: %v", kw.text, tag, err)
	}
	t := recordType(spelling, r)
	if tag != "" {
		if _, dup := p.h.Records[tag]; dup {
			return nil, p.errf(open, "%s %s defined twice", kw.text, tag)
		}
		p.h.Records[tag] = r
		if inc, ok := p.h.incomplete[tag]; ok {
			*inc = *t // pointers declared before the definition now see it
			delete(p.h.incomplete, tag)
		}
	}
	return t, nil
}

func recordType(spelling string, r *Record) *Type {
	if r.Name == "" {
		spelling = strings.TrimSpace(spelling)
	}
	return &Type{Kind: Struct, Name: spelling, Size: r.Size, Align: r.Align, Rec: r}
}

// member parses one member declaration of a struct or union body.
func (p *parser) member(r *Record) error {
	s, err := p.declSpecifiers()
	if err != nil {
		return err
	}
	if s.typedef {
		return p.errf(p.peek(), "typedef inside a struct")
	}
	if p.is(";") { // an anonymous struct or union member
		p.next()
		if s.base.Kind != Struct || s.base.Rec == nil || s.base.Rec.Name != "" {
			return p.errf(p.peek(), "declaration without a name")
		}
		r.Fields = append(r.Fields, Field{Type: s.base, Line: s.line})
		return nil
	}
	for {
		line := p.peek().line
		name, t, err := p.declarator(s.base)
		if err != nil {
			return err
		}
		if name == "" {
			return p.errf(p.peek(), "member without a name")
		}
		if p.is(":") {
			return p.errf(p.peek(), "bit-field %s is not supported", name)
		}
		if t.Kind == Func {
			return p.errf(p.peek(), "member %s has function type", name)
		}
		if t.Kind == Struct && t.Rec == nil || t.Kind == Void {
			return p.errf(p.peek(), "member %s has incomplete type %s", name, t.Name)
		}
		r.Fields = append(r.Fields, Field{Name: name, Type: t, Line: line})
		if !p.is(",") {
			break
		}
		p.next()
	}
	if err := p.skipAttributes(); err != nil {
		return err
	}
	_, err = p.expect(";")
	return err
}

// enumSpecifier parses "enum TAG" or "enum TAG { A = 1, B, ... }".
func (p *parser) enumSpecifier() (*Type, error) {
	kw := p.next()
	tag := ""
	if p.peek().kind == tIdent {
		tag = p.next().text
	}
	t := &Type{Kind: Enum, Name: strings.TrimSpace("enum " + tag), Size: 4, Align: 4}
	if !p.is("{") {
		if tag == "" {
			return nil, p.errf(kw, "anonymous enum without a body")
		}
		return t, nil // an enum of ggml.h, or one defined later: an int
	}
	open := p.next()
	e := &EnumDef{Name: tag, Line: open.line}
	next := int64(0)
	for !p.is("}") {
		nt := p.next()
		if nt.kind != tIdent {
			return nil, p.errf(nt, "expected an enumerator name, found %s", nt)
		}
		v := next
		if p.is("=") {
			p.next()
			var err error
			if v, err = p.constExpr(); err != nil {
				return nil, err
			}
		}
		e.Values = append(e.Values, Enumerator{nt.text, v})
		p.h.Constants[nt.text] = v
		next = v + 1
		if p.is(",") {
			p.next()
			continue
		}
		if !p.is("}") {
			return nil, p.errf(p.peek(), "expected ',' or '}' in enum %s, found %s", tag, p.peek())
		}
	}
	p.next()
	if tag != "" {
		p.h.Enums[tag] = e
	}
	return t, nil
}

// declarator parses a (possibly abstract) declarator applied to base and
// returns the declared name (empty when abstract) and type.
func (p *parser) declarator(base *Type) (string, *Type, error) {
	nptr := 0
	for {
		if p.is("*") {
			p.next()
			nptr++
			continue
		}
		if t := p.peek(); t.kind == tIdent && (t.text == "const" || t.text == "volatile" || t.text == "restrict" || t.text == "__restrict") {
			p.next()
			continue
		}
		break
	}
	if err := p.skipAttributes(); err != nil {
		return "", nil, err
	}
	if p.is("(") && (p.peekAt(1).text == "*" || p.peekAt(1).text == "(") {
		return p.innerDeclarator(ptrs(base, nptr))
	}
	name := ""
	if t := p.peek(); t.kind == tIdent && t.text != deprecatedMark {
		name = p.next().text
	}
	ty, err := p.suffixes(ptrs(base, nptr))
	if err != nil {
		return "", nil, err
	}
	return name, ty, nil
}

// innerDeclarator handles "base (*name)(params)" and "base (*name)[n]":
// the suffixes after the parenthesis apply to base first, and the
// declarator inside it applies to the result.
func (p *parser) innerDeclarator(base *Type) (string, *Type, error) {
	open := p.pos
	closeAt, depth := -1, 0
	for j := open; j < len(p.toks) && closeAt < 0; j++ {
		switch p.toks[j].text {
		case "(":
			depth++
		case ")":
			if depth--; depth == 0 {
				closeAt = j
			}
		}
	}
	if closeAt < 0 {
		return "", nil, p.errf(p.toks[open], "unclosed parenthesis")
	}
	p.pos = closeAt + 1
	outer, err := p.suffixes(base)
	if err != nil {
		return "", nil, err
	}
	after := p.pos
	p.pos = open + 1
	name, t, err := p.declarator(outer)
	if err != nil {
		return "", nil, err
	}
	if p.pos != closeAt {
		return "", nil, p.errf(p.peek(), "unexpected %s in declarator", p.peek())
	}
	p.pos = after
	return name, t, nil
}

func ptrs(t *Type, n int) *Type {
	for range n {
		t = &Type{Kind: Pointer, Name: t.Name + " *", Size: 8, Align: 8, Elem: t}
	}
	return t
}

// suffixes parses array and function suffixes after a declarator's name.
func (p *parser) suffixes(t *Type) (*Type, error) {
	type suffix struct {
		arrLen int64
		fn     *Signature
	}
	var list []suffix
	for {
		switch {
		case p.is("["):
			open := p.next()
			if p.is("]") {
				p.next()
				list = append(list, suffix{arrLen: 0})
				continue
			}
			n, err := p.constExpr()
			if err != nil {
				return nil, err
			}
			if n < 0 {
				return nil, p.errf(open, "negative array size %d", n)
			}
			if _, err := p.expect("]"); err != nil {
				return nil, err
			}
			list = append(list, suffix{arrLen: n})
		case p.is("("):
			sig, err := p.params()
			if err != nil {
				return nil, err
			}
			list = append(list, suffix{arrLen: -1, fn: sig})
		default:
			// Apply from the innermost (last) suffix outwards.
			for i := len(list) - 1; i >= 0; i-- {
				s := list[i]
				if s.fn != nil {
					s.fn.Result = t
					t = &Type{Kind: Func, Name: "function", Align: 1, Fn: s.fn}
					continue
				}
				t = &Type{Kind: Array, Name: fmt.Sprintf("%s[%d]", t.Name, s.arrLen),
					Size: t.Size * s.arrLen, Align: t.Align, Elem: t, Len: s.arrLen}
			}
			return t, nil
		}
	}
}

// params parses a parameter list "(...)".
func (p *parser) params() (*Signature, error) {
	open, err := p.expect("(")
	if err != nil {
		return nil, err
	}
	sig := &Signature{}
	if p.is(")") {
		p.next()
		return sig, nil
	}
	if p.is("void") && p.peekAt(1).text == ")" {
		p.next()
		p.next()
		return sig, nil
	}
	for {
		if p.is("...") {
			p.next()
			sig.Variadic = true
		} else {
			s, err := p.declSpecifiers()
			if err != nil {
				return nil, err
			}
			name, t, err := p.declarator(s.base)
			if err != nil {
				return nil, err
			}
			switch t.Kind {
			case Array: // decays to a pointer
				t = &Type{Kind: Pointer, Name: t.Elem.Name + " *", Size: 8, Align: 8, Elem: t.Elem}
			case Func:
				t = &Type{Kind: Pointer, Name: "function *", Size: 8, Align: 8, Elem: t}
			}
			sig.Params = append(sig.Params, Param{Name: name, Type: t})
		}
		if p.is(",") {
			p.next()
			continue
		}
		if p.is(")") {
			p.next()
			return sig, nil
		}
		if p.peek().kind == tEOF {
			return nil, p.errf(open, "unclosed parameter list")
		}
		return nil, p.errf(p.peek(), "expected ',' or ')' in parameter list, found %s", p.peek())
	}
}

// declaration parses one top-level declaration: a typedef, a struct, union
// or enum definition, or a function prototype.
func (p *parser) declaration() error {
	s, err := p.declSpecifiers()
	if err != nil {
		return err
	}
	if p.is(";") { // struct X { ... }; or enum X { ... }; or struct X;
		p.next()
		return nil
	}
	for {
		line := p.peek().line
		name, t, err := p.declarator(s.base)
		if err != nil {
			return err
		}
		if name == "" {
			return p.errf(p.peek(), "declaration without a name (found %s)", p.peek())
		}
		if err := p.skipAttributes(); err != nil {
			return err
		}
		switch {
		case s.typedef:
			p.h.Typedefs[name] = t
		case t.Kind == Func:
			if _, dup := p.h.Functions[name]; dup {
				return p.errf(p.toks[p.pos-1], "function %s declared twice", name)
			}
			p.h.Functions[name] = &Function{Name: name, Sig: t.Fn, Deprecated: s.deprecated, Line: line}
		default:
			return p.errf(p.toks[p.pos-1], "declaration of %s is neither a typedef nor a function prototype", name)
		}
		if p.is("{") {
			return p.errf(p.peek(), "function body in a header (%s)", name)
		}
		if !p.is(",") {
			break
		}
		p.next()
	}
	_, err = p.expect(";")
	return err
}

// constExpr parses an integer constant expression up to a ',', ']', '}' or
// ')' at depth 0.
func (p *parser) constExpr() (int64, error) {
	start := p.peek()
	var parts []token
	depth := 0
	for {
		t := p.peek()
		if t.kind == tEOF {
			return 0, p.errf(start, "unterminated constant expression")
		}
		if depth == 0 && (t.text == "," || t.text == "]" || t.text == "}" || t.text == ")") && t.kind == tPunct {
			break
		}
		if t.text == "(" {
			depth++
		}
		if t.text == ")" {
			depth--
		}
		parts = append(parts, p.next())
	}
	e := &evaluator{toks: parts, consts: p.h.Constants}
	v, err := e.expr(0)
	if err == nil && e.pos != len(parts) {
		err = fmt.Errorf("unexpected %s", parts[e.pos])
	}
	if err != nil {
		return 0, p.errf(start, "constant expression: %v", err)
	}
	return v, nil
}

// evalText evaluates the text of a #define as an integer expression.
func evalText(text string, consts map[string]int64) (int64, bool) {
	if strings.TrimSpace(text) == "" {
		return 0, false
	}
	toks, err := lex("", text, func(string, string, int) {})
	if err != nil {
		return 0, false
	}
	toks = toks[:len(toks)-1]
	e := &evaluator{toks: toks, consts: consts}
	v, err := e.expr(0)
	if err != nil || e.pos != len(toks) {
		return 0, false
	}
	return v, true
}

// evaluator computes C integer constant expressions by precedence climbing.
type evaluator struct {
	toks   []token
	pos    int
	consts map[string]int64
}

var binPrec = map[string]int{"|": 1, "^": 2, "&": 3, "<<": 4, ">>": 4, "+": 5, "-": 5, "*": 6, "/": 6, "%": 6}

func (e *evaluator) expr(minPrec int) (int64, error) {
	l, err := e.unary()
	if err != nil {
		return 0, err
	}
	for e.pos < len(e.toks) {
		op := e.toks[e.pos].text
		prec, ok := binPrec[op]
		if !ok || prec <= minPrec-1 || prec < minPrec {
			break
		}
		e.pos++
		r, err := e.expr(prec + 1)
		if err != nil {
			return 0, err
		}
		switch op {
		case "|":
			l |= r
		case "^":
			l ^= r
		case "&":
			l &= r
		case "<<":
			l <<= uint(r)
		case ">>":
			l >>= uint(r)
		case "+":
			l += r
		case "-":
			l -= r
		case "*":
			l *= r
		case "/", "%":
			if r == 0 {
				return 0, fmt.Errorf("division by zero")
			}
			if op == "/" {
				l /= r
			} else {
				l %= r
			}
		}
	}
	return l, nil
}

func (e *evaluator) unary() (int64, error) {
	if e.pos >= len(e.toks) {
		return 0, fmt.Errorf("expression ends early")
	}
	t := e.toks[e.pos]
	e.pos++
	switch {
	case t.text == "-":
		v, err := e.unary()
		return -v, err
	case t.text == "+":
		return e.unary()
	case t.text == "~":
		v, err := e.unary()
		return ^v, err
	case t.text == "(":
		v, err := e.expr(0)
		if err != nil {
			return 0, err
		}
		if e.pos >= len(e.toks) || e.toks[e.pos].text != ")" {
			return 0, fmt.Errorf("missing ')'")
		}
		e.pos++
		return v, nil
	case t.kind == tNumber:
		s := strings.TrimRight(strings.ToLower(t.text), "ul")
		v, err := strconv.ParseInt(s, 0, 64)
		if err != nil {
			u, uerr := strconv.ParseUint(s, 0, 64)
			if uerr != nil {
				return 0, fmt.Errorf("bad integer %q", t.text)
			}
			v = int64(u)
		}
		return v, nil
	case t.kind == tString && strings.HasPrefix(t.text, "'") && len(t.text) == 3:
		return int64(t.text[1]), nil
	case t.kind == tIdent:
		if v, ok := e.consts[t.text]; ok {
			return v, nil
		}
		return 0, fmt.Errorf("unknown constant %q", t.text)
	}
	return 0, fmt.Errorf("unexpected %s", t)
}
