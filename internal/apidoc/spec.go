package apidoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// The model below covers the parts of OpenAPI 3.1 that the reference page
// renders; everything else in the document is ignored when parsing. Maps
// whose order a reader notices (paths, properties, responses) keep the
// document's order.

type document struct {
	OpenAPI    string                `json:"openapi"`
	Info       info                  `json:"info"`
	Servers    []server              `json:"servers"`
	Security   []map[string][]string `json:"security"`
	Tags       []tag                 `json:"tags"`
	Paths      ordered[*pathItem]    `json:"paths"`
	Components components            `json:"components"`

	propsMemo map[*schema]propsResult // filled while rendering, by one goroutine at a time
}

type info struct {
	Title       string   `json:"title"`
	Version     string   `json:"version"`
	Summary     string   `json:"summary"`
	Description string   `json:"description"`
	License     *license `json:"license"`
}

type license struct {
	Name       string `json:"name"`
	Identifier string `json:"identifier"`
	URL        string `json:"url"`
}

type server struct {
	URL         string `json:"url"`
	Description string `json:"description"`
}

type tag struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

type components struct {
	Schemas         ordered[*schema]         `json:"schemas"`
	Parameters      ordered[*parameter]      `json:"parameters"`
	Responses       ordered[*response]       `json:"responses"`
	RequestBodies   ordered[*requestBody]    `json:"requestBodies"`
	Headers         ordered[*header]         `json:"headers"`
	SecuritySchemes ordered[*securityScheme] `json:"securitySchemes"`
}

type securityScheme struct {
	Type         string `json:"type"`
	Scheme       string `json:"scheme"`
	BearerFormat string `json:"bearerFormat"`
	In           string `json:"in"`
	Name         string `json:"name"`
	Description  string `json:"description"`
}

type pathItem struct {
	Summary     string       `json:"summary"`
	Description string       `json:"description"`
	Parameters  []*parameter `json:"parameters"`
	Get         *operation   `json:"get"`
	Put         *operation   `json:"put"`
	Post        *operation   `json:"post"`
	Delete      *operation   `json:"delete"`
	Options     *operation   `json:"options"`
	Head        *operation   `json:"head"`
	Patch       *operation   `json:"patch"`
	Trace       *operation   `json:"trace"`
}

// methodOp is one operation of a path with its HTTP method.
type methodOp struct {
	Method string // upper case, as in a ServeMux pattern
	Op     *operation
}

// operations lists the path item's operations in a fixed, readable order.
func (p *pathItem) operations() []methodOp {
	var out []methodOp
	for _, m := range []methodOp{
		{"GET", p.Get}, {"POST", p.Post}, {"PUT", p.Put}, {"PATCH", p.Patch},
		{"DELETE", p.Delete}, {"HEAD", p.Head}, {"OPTIONS", p.Options}, {"TRACE", p.Trace},
	} {
		if m.Op != nil {
			out = append(out, m)
		}
	}
	return out
}

type operation struct {
	OperationID string                 `json:"operationId"`
	Tags        []string               `json:"tags"`
	Summary     string                 `json:"summary"`
	Description string                 `json:"description"`
	Deprecated  bool                   `json:"deprecated"`
	Parameters  []*parameter           `json:"parameters"`
	RequestBody *requestBody           `json:"requestBody"`
	Responses   ordered[*response]     `json:"responses"`
	Security    *[]map[string][]string `json:"security"` // nil inherits the document's; empty means public
}

type parameter struct {
	Ref         string          `json:"$ref"`
	Name        string          `json:"name"`
	In          string          `json:"in"`
	Description string          `json:"description"`
	Required    bool            `json:"required"`
	Schema      *schema         `json:"schema"`
	Example     json.RawMessage `json:"example"`
}

type requestBody struct {
	Ref         string              `json:"$ref"`
	Description string              `json:"description"`
	Required    bool                `json:"required"`
	Content     ordered[*mediaType] `json:"content"`
}

type response struct {
	Ref         string              `json:"$ref"`
	Description string              `json:"description"`
	Headers     ordered[*header]    `json:"headers"`
	Content     ordered[*mediaType] `json:"content"`
}

type header struct {
	Ref         string          `json:"$ref"`
	Description string          `json:"description"`
	Required    bool            `json:"required"`
	Schema      *schema         `json:"schema"`
	Example     json.RawMessage `json:"example"`
}

type mediaType struct {
	Schema   *schema              `json:"schema"`
	Example  json.RawMessage      `json:"example"`
	Examples ordered[*exampleObj] `json:"examples"`
}

type exampleObj struct {
	Summary     string          `json:"summary"`
	Description string          `json:"description"`
	Value       json.RawMessage `json:"value"`
}

type schema struct {
	Ref                  string            `json:"$ref"`
	Type                 typeList          `json:"type"`
	Format               string            `json:"format"`
	Title                string            `json:"title"`
	Description          string            `json:"description"`
	Enum                 []json.RawMessage `json:"enum"`
	Const                json.RawMessage   `json:"const"`
	Default              json.RawMessage   `json:"default"`
	Examples             []json.RawMessage `json:"examples"`
	Items                *schema           `json:"items"`
	Properties           ordered[*schema]  `json:"properties"`
	Required             []string          `json:"required"`
	AdditionalProperties json.RawMessage   `json:"additionalProperties"`
	AllOf                []*schema         `json:"allOf"`
	AnyOf                []*schema         `json:"anyOf"`
	OneOf                []*schema         `json:"oneOf"`
	Minimum              *float64          `json:"minimum"`
	Maximum              *float64          `json:"maximum"`
	ExclusiveMinimum     *float64          `json:"exclusiveMinimum"`
	ExclusiveMaximum     *float64          `json:"exclusiveMaximum"`
	MinLength            *int              `json:"minLength"`
	MaxLength            *int              `json:"maxLength"`
	MinItems             *int              `json:"minItems"`
	MaxItems             *int              `json:"maxItems"`
	Pattern              string            `json:"pattern"`
	ReadOnly             bool              `json:"readOnly"`
	WriteOnly            bool              `json:"writeOnly"`
}

// typeList is a JSON Schema "type": one name or a list of names.
type typeList []string

func (t *typeList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*t = typeList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("type must be a string or a list of strings")
	}
	*t = many
	return nil
}

// ordered is a JSON object whose keys keep the document's order. Duplicate
// keys are an error: in a hand-written document they are a mistake that a
// plain map would hide by keeping only the last.
type ordered[V any] struct {
	Keys   []string
	Values map[string]V
}

func (m *ordered[V]) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil { // null
		*m = ordered[V]{}
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("want a JSON object, got %v", tok)
	}
	out := ordered[V]{Values: map[string]V{}}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("want an object key, got %v", tok)
		}
		if _, dup := out.Values[key]; dup {
			return fmt.Errorf("duplicate key %q", key)
		}
		var v V
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		out.Keys = append(out.Keys, key)
		out.Values[key] = v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return err
	}
	*m = out
	return nil
}

// Len is the number of keys.
func (m ordered[V]) Len() int { return len(m.Keys) }

// parse reads an OpenAPI document into the model.
func parse(data []byte) (*document, error) {
	var d document
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("parse openapi document: %w", err)
	}
	if !strings.HasPrefix(d.OpenAPI, "3.1.") {
		return nil, fmt.Errorf("parse openapi document: version %q, want 3.1.x", d.OpenAPI)
	}
	return &d, nil
}

// maxRefHops bounds a chain of references, so that a reference cycle in a
// broken document ends in an error instead of a loop.
const maxRefHops = 16

// component returns the component named by a local reference such as
// "#/components/schemas/Load", with the component's name.
func component[V any](m ordered[V], section, ref string) (V, string, error) {
	var zero V
	prefix := "#/components/" + section + "/"
	if !strings.HasPrefix(ref, prefix) {
		return zero, "", fmt.Errorf("reference %q is not under %s", ref, prefix)
	}
	// JSON Pointer escapes: ~1 is "/", ~0 is "~".
	name := strings.NewReplacer("~1", "/", "~0", "~").Replace(strings.TrimPrefix(ref, prefix))
	v, ok := m.Values[name]
	if !ok {
		return zero, "", fmt.Errorf("unresolved reference %q", ref)
	}
	return v, name, nil
}

// schemaOf follows s's references to the schema that has content. It returns
// the name of the first component reached, or "" for an inline schema.
func (d *document) schemaOf(s *schema) (*schema, string, error) {
	name := ""
	for hops := 0; s != nil && s.Ref != ""; hops++ {
		if hops == maxRefHops {
			return nil, "", fmt.Errorf("reference chain too long at %q", s.Ref)
		}
		t, n, err := component(d.Components.Schemas, "schemas", s.Ref)
		if err != nil {
			return nil, "", err
		}
		if name == "" {
			name = n
		}
		s = t
	}
	if s == nil {
		return nil, "", errors.New("missing schema")
	}
	return s, name, nil
}

func (d *document) parameterOf(p *parameter) (*parameter, error) {
	for hops := 0; p != nil && p.Ref != ""; hops++ {
		if hops == maxRefHops {
			return nil, fmt.Errorf("reference chain too long at %q", p.Ref)
		}
		t, _, err := component(d.Components.Parameters, "parameters", p.Ref)
		if err != nil {
			return nil, err
		}
		p = t
	}
	if p == nil {
		return nil, errors.New("missing parameter")
	}
	return p, nil
}

func (d *document) responseOf(r *response) (*response, error) {
	for hops := 0; r != nil && r.Ref != ""; hops++ {
		if hops == maxRefHops {
			return nil, fmt.Errorf("reference chain too long at %q", r.Ref)
		}
		t, _, err := component(d.Components.Responses, "responses", r.Ref)
		if err != nil {
			return nil, err
		}
		r = t
	}
	if r == nil {
		return nil, errors.New("missing response")
	}
	return r, nil
}

func (d *document) requestBodyOf(b *requestBody) (*requestBody, error) {
	for hops := 0; b != nil && b.Ref != ""; hops++ {
		if hops == maxRefHops {
			return nil, fmt.Errorf("reference chain too long at %q", b.Ref)
		}
		t, _, err := component(d.Components.RequestBodies, "requestBodies", b.Ref)
		if err != nil {
			return nil, err
		}
		b = t
	}
	if b == nil {
		return nil, errors.New("missing request body")
	}
	return b, nil
}

func (d *document) headerOf(h *header) (*header, error) {
	for hops := 0; h != nil && h.Ref != ""; hops++ {
		if hops == maxRefHops {
			return nil, fmt.Errorf("reference chain too long at %q", h.Ref)
		}
		t, _, err := component(d.Components.Headers, "headers", h.Ref)
		if err != nil {
			return nil, err
		}
		h = t
	}
	if h == nil {
		return nil, errors.New("missing header")
	}
	return h, nil
}

// opParameters merges the path's parameters with the operation's, which
// override those of the same name and location.
func (d *document) opParameters(p *pathItem, op *operation) ([]*parameter, error) {
	var out []*parameter
	index := map[string]int{}
	for _, list := range [][]*parameter{p.Parameters, op.Parameters} {
		for _, raw := range list {
			prm, err := d.parameterOf(raw)
			if err != nil {
				return nil, err
			}
			key := prm.In + "\x00" + prm.Name
			if i, ok := index[key]; ok {
				out[i] = prm
				continue
			}
			index[key] = len(out)
			out = append(out, prm)
		}
	}
	return out, nil
}
