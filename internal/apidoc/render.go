package apidoc

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"regexp"
	"strconv"
	"strings"
)

//go:embed reference.tmpl
var referenceTmpl string

var pageTmpl = template.Must(template.New("reference").Parse(referenceTmpl))

// The view types hold exactly what the template shows, already resolved and
// formatted, so the template has no logic beyond loops and conditions.

type pageView struct {
	Title       string
	Version     string
	Summary     string
	Description template.HTML
	License     string
	Servers     []server
	Security    []securityView
	Tags        []tagView
	Responses   []sharedResponseView
	Schemas     []schemaView
}

// sharedResponseView is a response of components/responses, shown once and
// linked from every operation that answers it.
type sharedResponseView struct {
	Name     string
	Anchor   string
	Response responseView
}

type securityView struct {
	Label       string
	Description template.HTML
}

type tagView struct {
	Name        string
	Anchor      string
	Description template.HTML
	Ops         []opView
}

type opView struct {
	ID          string
	Anchor      string
	Method      string
	MethodClass string
	Path        string
	Summary     string
	Description template.HTML
	Auth        string
	Deprecated  bool
	Params      []paramView
	Request     *bodyView
	Responses   []responseView
}

type paramView struct {
	Name        string
	In          string
	Type        typeView
	Required    bool
	Description template.HTML
	Notes       string
}

// typeView renders as Prefix, then Name (a link to Link when set), then Suffix:
// "array of " + "Load".
type typeView struct {
	Prefix string
	Name   string
	Link   string
}

type fieldView struct {
	Name        string
	Depth       int
	Type        typeView
	Required    bool
	Description template.HTML
	Notes       string
}

type bodyView struct {
	ContentType string
	Required    bool
	Description template.HTML
	Type        typeView
	Fields      []fieldView
	Examples    []exampleView
}

type exampleView struct {
	Title string
	Text  string
	Open  bool // shown unfolded: requests and successful responses
}

type responseView struct {
	Status      string
	Link        string // the anchor of the shared response it refers to
	LinkName    string
	Class       string // ok, client, server or other: the colour of the badge
	Description template.HTML
	Headers     []headerView
	Bodies      []bodyView
	Success     bool
}

type headerView struct {
	Name        string
	Type        typeView
	Description template.HTML
}

type schemaView struct {
	Name        string
	Anchor      string
	Description template.HTML
	Type        typeView
	Notes       string
	Fields      []fieldView
}

// render returns the reference page for d.
func render(d *document) ([]byte, error) {
	v, err := d.view()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, v); err != nil {
		return nil, fmt.Errorf("render reference: %w", err)
	}
	return buf.Bytes(), nil
}

func (d *document) view() (*pageView, error) {
	v := &pageView{
		Title:       d.Info.Title,
		Version:     d.Info.Version,
		Summary:     d.Info.Summary,
		Description: prose(d.Info.Description),
		Servers:     d.Servers,
	}
	if l := d.Info.License; l != nil {
		v.License = l.Name
	}
	for _, name := range d.Components.SecuritySchemes.Keys {
		s := d.Components.SecuritySchemes.Values[name]
		if s == nil {
			continue
		}
		v.Security = append(v.Security, securityView{Label: schemeLabel(s), Description: prose(s.Description)})
	}

	byTag := map[string]int{}
	addTag := func(name, desc string) int {
		if i, ok := byTag[name]; ok {
			return i
		}
		byTag[name] = len(v.Tags)
		v.Tags = append(v.Tags, tagView{Name: name, Anchor: anchor("tag", name), Description: prose(desc)})
		return byTag[name]
	}
	for _, t := range d.Tags {
		addTag(t.Name, t.Description)
	}
	for _, path := range d.Paths.Keys {
		item := d.Paths.Values[path]
		if item == nil {
			continue
		}
		for _, mo := range item.operations() {
			ov, err := d.opView(path, item, mo)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", mo.Method, path, err)
			}
			tagName := "other"
			if len(mo.Op.Tags) > 0 {
				tagName = mo.Op.Tags[0]
			}
			i := addTag(tagName, "")
			v.Tags[i].Ops = append(v.Tags[i].Ops, ov)
		}
	}
	// A declared tag without operations would be an empty heading.
	tags := v.Tags[:0]
	for _, t := range v.Tags {
		if len(t.Ops) > 0 {
			tags = append(tags, t)
		}
	}
	v.Tags = tags

	for _, name := range d.Components.Responses.Keys {
		r := d.Components.Responses.Values[name]
		if r == nil {
			continue
		}
		rv, err := d.responseView("", r, false)
		if err != nil {
			return nil, fmt.Errorf("response %s: %w", name, err)
		}
		v.Responses = append(v.Responses, sharedResponseView{Name: name, Anchor: anchor("response", name), Response: rv})
	}

	for _, name := range d.Components.Schemas.Keys {
		s := d.Components.Schemas.Values[name]
		if s == nil {
			continue
		}
		sv := schemaView{Name: name, Anchor: anchor("schema", name), Description: prose(s.Description)}
		var err error
		if sv.Type, err = d.typeOf(s); err != nil {
			return nil, fmt.Errorf("schema %s: %w", name, err)
		}
		if sv.Notes, err = d.notes(s); err != nil {
			return nil, fmt.Errorf("schema %s: %w", name, err)
		}
		if sv.Fields, err = d.fields(s, "", 0, nil); err != nil {
			return nil, fmt.Errorf("schema %s: %w", name, err)
		}
		v.Schemas = append(v.Schemas, sv)
	}
	return v, nil
}

func (d *document) opView(path string, item *pathItem, mo methodOp) (opView, error) {
	op := mo.Op
	ov := opView{
		ID:          op.OperationID,
		Anchor:      anchor("op", op.OperationID),
		Method:      mo.Method,
		MethodClass: strings.ToLower(mo.Method),
		Path:        path,
		Summary:     op.Summary,
		Description: prose(op.Description),
		Deprecated:  op.Deprecated,
		Auth:        d.authText(op),
	}
	if op.OperationID == "" {
		ov.Anchor = anchor("op", mo.Method+" "+path)
	}
	params, err := d.opParameters(item, op)
	if err != nil {
		return ov, err
	}
	for _, p := range params {
		pv := paramView{Name: p.Name, In: p.In, Required: p.Required, Description: prose(p.Description)}
		if p.Schema != nil {
			if pv.Type, err = d.typeOf(p.Schema); err != nil {
				return ov, fmt.Errorf("parameter %s: %w", p.Name, err)
			}
			if pv.Notes, err = d.notes(p.Schema); err != nil {
				return ov, fmt.Errorf("parameter %s: %w", p.Name, err)
			}
		}
		if len(p.Example) > 0 {
			pv.Notes = joinNotes(pv.Notes, "example: "+plainValue(p.Example))
		}
		ov.Params = append(ov.Params, pv)
	}
	if op.RequestBody != nil {
		rb, err := d.requestBodyOf(op.RequestBody)
		if err != nil {
			return ov, err
		}
		// Every request body of the API has one media type, JSON.
		if rb.Content.Len() > 0 {
			ct := rb.Content.Keys[0]
			bv, err := d.bodyView(ct, rb.Content.Values[ct], true)
			if err != nil {
				return ov, fmt.Errorf("request body: %w", err)
			}
			bv.Required, bv.Description = rb.Required, prose(rb.Description)
			ov.Request = &bv
		}
	}
	for _, status := range op.Responses.Keys {
		raw := op.Responses.Values[status]
		if raw != nil && raw.Ref != "" {
			// A shared response is shown in full once; here it is a line
			// with a link.
			r, err := d.responseOf(raw)
			if err != nil {
				return ov, fmt.Errorf("response %s: %w", status, err)
			}
			_, name, _ := component(d.Components.Responses, "responses", raw.Ref)
			ov.Responses = append(ov.Responses, responseView{Status: status, Class: statusClass(status),
				Description: prose(r.Description), Link: anchor("response", name), LinkName: name})
			continue
		}
		rv, err := d.responseView(status, raw, strings.HasPrefix(status, "2"))
		if err != nil {
			return ov, fmt.Errorf("response %s: %w", status, err)
		}
		ov.Responses = append(ov.Responses, rv)
	}
	return ov, nil
}

// responseView describes a response in full; success responses get field
// tables.
func (d *document) responseView(status string, r *response, success bool) (responseView, error) {
	r, err := d.responseOf(r)
	if err != nil {
		return responseView{}, err
	}
	rv := responseView{Status: status, Class: statusClass(status), Description: prose(r.Description), Success: success}
	for _, name := range r.Headers.Keys {
		h, err := d.headerOf(r.Headers.Values[name])
		if err != nil {
			return rv, fmt.Errorf("header %s: %w", name, err)
		}
		hv := headerView{Name: name, Description: prose(h.Description)}
		if h.Schema != nil {
			if hv.Type, err = d.typeOf(h.Schema); err != nil {
				return rv, fmt.Errorf("header %s: %w", name, err)
			}
		}
		rv.Headers = append(rv.Headers, hv)
	}
	for _, ct := range r.Content.Keys {
		bv, err := d.bodyView(ct, r.Content.Values[ct], success)
		if err != nil {
			return rv, err
		}
		rv.Bodies = append(rv.Bodies, bv)
	}
	return rv, nil
}

// bodyView describes one media type; withFields expands the schema into a
// field table (problem bodies link to the shared Problem schema instead).
func (d *document) bodyView(ct string, m *mediaType, withFields bool) (bodyView, error) {
	bv := bodyView{ContentType: ct}
	if m == nil {
		return bv, nil
	}
	if m.Schema != nil {
		var err error
		if bv.Type, err = d.typeOf(m.Schema); err != nil {
			return bv, err
		}
		if withFields {
			if bv.Fields, err = d.fields(m.Schema, "", 0, nil); err != nil {
				return bv, err
			}
		}
	}
	if len(m.Example) > 0 {
		bv.Examples = append(bv.Examples, exampleView{Title: "Example", Text: exampleText(ct, m.Example), Open: withFields})
	}
	for _, name := range m.Examples.Keys {
		e := m.Examples.Values[name]
		if e == nil || len(e.Value) == 0 {
			continue
		}
		title := e.Summary
		if title == "" {
			title = name
		}
		bv.Examples = append(bv.Examples, exampleView{Title: title, Text: exampleText(ct, e.Value), Open: withFields})
	}
	return bv, nil
}

// maxFieldDepth bounds how deep inline objects are expanded; named schemas
// are linked, not expanded, so real documents stay far below it.
const maxFieldDepth = 4

// fields lists the properties of s, expanding inline objects and arrays of
// inline objects with dotted names ("user.id", "stops[].city").
func (d *document) fields(s *schema, prefix string, depth int, seen map[*schema]bool) ([]fieldView, error) {
	if depth > maxFieldDepth {
		return nil, nil
	}
	s, _, err := d.schemaOf(s)
	if err != nil {
		return nil, err
	}
	if seen[s] {
		return nil, nil
	}
	next := map[*schema]bool{s: true}
	for k := range seen {
		next[k] = true
	}
	names, props, required, err := d.properties(s)
	if err != nil {
		return nil, err
	}
	var rows []fieldView
	for _, name := range names {
		p := props[name]
		if p == nil {
			continue
		}
		row := fieldView{Name: prefix + name, Depth: depth, Required: required[name]}
		if row.Type, err = d.typeOf(p); err != nil {
			return nil, fmt.Errorf("%s%s: %w", prefix, name, err)
		}
		if row.Notes, err = d.notes(p); err != nil {
			return nil, fmt.Errorf("%s%s: %w", prefix, name, err)
		}
		desc := p.Description
		if desc == "" && p.Ref != "" {
			if t, _, err := d.schemaOf(p); err == nil {
				desc = t.Description
			}
		}
		row.Description = prose(desc)
		rows = append(rows, row)
		switch {
		case p.Ref == "" && p.Properties.Len() > 0:
			sub, err := d.fields(p, prefix+name+".", depth+1, next)
			if err != nil {
				return nil, err
			}
			rows = append(rows, sub...)
		case p.Ref == "" && p.Items != nil && p.Items.Ref == "" && p.Items.Properties.Len() > 0:
			sub, err := d.fields(p.Items, prefix+name+"[].", depth+1, next)
			if err != nil {
				return nil, err
			}
			rows = append(rows, sub...)
		}
	}
	return rows, nil
}

// properties merges s's own properties with those of its allOf parts, in
// order, with the union of their required names.
func (d *document) properties(s *schema) ([]string, map[string]*schema, map[string]bool, error) {
	return d.propertiesOf(s, map[*schema]bool{})
}

// propsResult is a schema's merged properties, remembered because allOf
// parts may share parts: without it a chain of diamonds costs exponential
// time.
type propsResult struct {
	names    []string
	props    map[string]*schema
	required map[string]bool
}

func (d *document) propertiesOf(s *schema, visiting map[*schema]bool) ([]string, map[string]*schema, map[string]bool, error) {
	if r, ok := d.propsMemo[s]; ok {
		return r.names, r.props, r.required, nil
	}
	if visiting[s] {
		return nil, nil, nil, fmt.Errorf("allOf refers to itself")
	}
	visiting[s] = true
	defer delete(visiting, s)
	var names []string
	props := map[string]*schema{}
	required := map[string]bool{}
	add := func(n []string, p map[string]*schema, r map[string]bool) {
		for _, name := range n {
			if _, ok := props[name]; !ok {
				names = append(names, name)
			}
			props[name] = p[name]
		}
		for name := range r {
			required[name] = true
		}
	}
	for _, part := range s.AllOf {
		ps, _, err := d.schemaOf(part)
		if err != nil {
			return nil, nil, nil, err
		}
		n, p, r, err := d.propertiesOf(ps, visiting)
		if err != nil {
			return nil, nil, nil, err
		}
		add(n, p, r)
	}
	own := map[string]bool{}
	for _, name := range s.Required {
		own[name] = true
	}
	add(s.Properties.Keys, s.Properties.Values, own)
	if d.propsMemo == nil {
		d.propsMemo = map[*schema]propsResult{}
	}
	d.propsMemo[s] = propsResult{names, props, required}
	return names, props, required, nil
}

// typeOf names a schema's type for a table cell.
func (d *document) typeOf(s *schema) (typeView, error) {
	return d.typeOfDepth(s, 0)
}

func (d *document) typeOfDepth(s *schema, depth int) (typeView, error) {
	if depth > maxRefHops {
		return typeView{}, fmt.Errorf("schema nested too deeply")
	}
	if s == nil {
		return typeView{Name: "any"}, nil
	}
	if s.Ref != "" {
		_, name, err := d.schemaOf(s)
		if err != nil {
			return typeView{}, err
		}
		return typeView{Name: name, Link: anchor("schema", name)}, nil
	}
	if len(s.Type) == 0 {
		switch {
		case len(s.AllOf) == 1:
			return d.typeOfDepth(s.AllOf[0], depth+1)
		case len(s.AllOf) > 1, s.Properties.Len() > 0:
			return typeView{Name: "object"}, nil
		case len(s.OneOf)+len(s.AnyOf) > 0:
			return typeView{Name: "one of several"}, nil
		}
		return typeView{Name: "any"}, nil
	}
	if len(s.Type) == 1 && s.Type[0] == "array" {
		item, err := d.typeOfDepth(s.Items, depth+1)
		if err != nil {
			return typeView{}, err
		}
		item.Prefix = "array of " + item.Prefix
		return item, nil
	}
	name := strings.Join(s.Type, " or ")
	if s.Format != "" {
		name += " (" + s.Format + ")"
	}
	return typeView{Name: name}, nil
}

// notes lists a schema's constraints: allowed values, bounds, defaults. A
// reference to a named enum shows the enum's values too, since readers
// want them beside the field.
func (d *document) notes(s *schema) (string, error) {
	if s == nil {
		return "", nil
	}
	t := s
	if s.Ref != "" {
		var err error
		if t, _, err = d.schemaOf(s); err != nil {
			return "", err
		}
	}
	var out []string
	if len(t.Enum) > 0 {
		vals := make([]string, len(t.Enum))
		for i, e := range t.Enum {
			vals[i] = plainValue(e)
		}
		out = append(out, "one of: "+strings.Join(vals, ", "))
	}
	if len(t.Const) > 0 {
		out = append(out, "always "+plainValue(t.Const))
	}
	if s.Ref != "" {
		// Bounds of a referenced object belong to its own section.
		return strings.Join(out, "; "), nil
	}
	num := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
	switch {
	case s.Minimum != nil && s.Maximum != nil:
		out = append(out, num(*s.Minimum)+" to "+num(*s.Maximum))
	case s.Minimum != nil:
		out = append(out, "at least "+num(*s.Minimum))
	case s.Maximum != nil:
		out = append(out, "at most "+num(*s.Maximum))
	}
	if s.ExclusiveMinimum != nil {
		out = append(out, "more than "+num(*s.ExclusiveMinimum))
	}
	if s.ExclusiveMaximum != nil {
		out = append(out, "less than "+num(*s.ExclusiveMaximum))
	}
	switch {
	case s.MinLength != nil && s.MaxLength != nil && *s.MinLength == *s.MaxLength:
		out = append(out, fmt.Sprintf("exactly %d characters", *s.MinLength))
	case s.MinLength != nil && s.MaxLength != nil:
		out = append(out, fmt.Sprintf("%d to %d characters", *s.MinLength, *s.MaxLength))
	case s.MinLength != nil:
		out = append(out, fmt.Sprintf("at least %d characters", *s.MinLength))
	case s.MaxLength != nil:
		out = append(out, fmt.Sprintf("at most %d characters", *s.MaxLength))
	}
	if s.MinItems != nil {
		out = append(out, fmt.Sprintf("at least %d items", *s.MinItems))
	}
	if s.MaxItems != nil {
		out = append(out, fmt.Sprintf("at most %d items", *s.MaxItems))
	}
	if s.Pattern != "" {
		out = append(out, "pattern "+s.Pattern)
	}
	if len(s.Default) > 0 {
		out = append(out, "default "+plainValue(s.Default))
	}
	if s.ReadOnly {
		out = append(out, "read-only")
	}
	if s.WriteOnly {
		out = append(out, "write-only")
	}
	return strings.Join(out, "; "), nil
}

func joinNotes(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// plainValue shows a JSON scalar as a reader writes it: strings unquoted.
func plainValue(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) == nil {
		return buf.String()
	}
	return string(raw)
}

// exampleText indents a JSON example; a text example (metrics) is shown as
// the text itself.
func exampleText(contentType string, raw json.RawMessage) string {
	if !strings.Contains(contentType, "json") {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return string(raw)
	}
	return buf.String()
}

func (d *document) authText(op *operation) string {
	reqs := d.Security
	if op.Security != nil {
		reqs = *op.Security
	}
	if len(reqs) == 0 {
		return "Public: no credentials."
	}
	var labels []string
	for _, req := range reqs {
		if len(req) == 0 {
			return "Credentials optional."
		}
		for name := range req {
			if s := d.Components.SecuritySchemes.Values[name]; s != nil {
				labels = append(labels, schemeLabel(s))
			} else {
				labels = append(labels, name)
			}
		}
	}
	return "Credentials: " + strings.Join(labels, ", or ") + "."
}

func schemeLabel(s *securityScheme) string {
	switch {
	case s.Type == "http" && strings.EqualFold(s.Scheme, "bearer"):
		return "Authorization: Bearer"
	case s.Type == "apiKey":
		return s.Name + " " + s.In
	}
	return s.Type
}

func statusClass(status string) string {
	switch {
	case strings.HasPrefix(status, "2"), strings.HasPrefix(status, "3"):
		return "ok"
	case strings.HasPrefix(status, "4"):
		return "client"
	case strings.HasPrefix(status, "5"):
		return "server"
	}
	return "other"
}

var unsafeAnchor = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// anchor makes a fragment identifier that needs no escaping.
func anchor(kind, name string) string {
	return kind + "-" + strings.Trim(unsafeAnchor.ReplaceAllString(name, "-"), "-")
}

var codeSpan = regexp.MustCompile("`([^`]+)`")

// prose renders a description: blank lines separate paragraphs, lines that
// start with "- " are list items, and `text` is code. The text is escaped
// before any markup is added, so the result is safe HTML.
func prose(text string) template.HTML {
	var b strings.Builder
	inline := func(s string) string {
		return codeSpan.ReplaceAllString(html.EscapeString(s), "<code>$1</code>")
	}
	for _, block := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n\n") {
		var para []string
		inList := false
		flush := func() {
			if len(para) > 0 {
				b.WriteString("<p>" + inline(strings.Join(para, " ")) + "</p>")
				para = nil
			}
		}
		for _, line := range strings.Split(block, "\n") {
			line = strings.TrimSpace(line)
			switch {
			case line == "":
			case strings.HasPrefix(line, "- "):
				flush()
				if !inList {
					b.WriteString("<ul>")
					inList = true
				}
				b.WriteString("<li>" + inline(strings.TrimPrefix(line, "- ")) + "</li>")
			default:
				if inList {
					b.WriteString("</ul>")
					inList = false
				}
				para = append(para, line)
			}
		}
		flush()
		if inList {
			b.WriteString("</ul>")
		}
	}
	return template.HTML(b.String())
}
