package deploy

import (
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// dockerfile is a Dockerfile split into its build stages.
type dockerfile struct {
	stages []stage
}

type stage struct {
	image string // FROM image
	name  string // AS name
	instr []instruction
}

type instruction struct {
	cmd  string // upper case: RUN, COPY, ...
	args string
	line int
}

func readDockerfile(p string) (*dockerfile, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	return parseDockerfile(string(b))
}

// parseDockerfile splits a Dockerfile into instructions (joining lines
// continued with a backslash and dropping comments) and stages.
func parseDockerfile(text string) (*dockerfile, error) {
	df := &dockerfile{}
	var cur strings.Builder
	start := 0
	flush := func() error {
		s := strings.TrimSpace(cur.String())
		cur.Reset()
		if s == "" {
			return nil
		}
		cmd, args, _ := strings.Cut(s, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			st := stage{}
			switch {
			case len(f) == 1:
				st.image = f[0]
			case len(f) == 3 && strings.EqualFold(f[1], "AS"):
				st.image, st.name = f[0], f[2]
			default:
				return fmt.Errorf("line %d: FROM %s: want IMAGE [AS NAME]", in.line, in.args)
			}
			df.stages = append(df.stages, st)
			return nil
		}
		if len(df.stages) == 0 {
			if in.cmd == "ARG" {
				return nil // an ARG before the first FROM
			}
			return fmt.Errorf("line %d: %s before the first FROM", in.line, in.cmd)
		}
		last := &df.stages[len(df.stages)-1]
		last.instr = append(last.instr, in)
		return nil
	}
	for i, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 {
			if trimmed == "" || strings.HasPrefix(trimmed, "#") {
				continue
			}
			start = i + 1
		} else if strings.HasPrefix(trimmed, "#") {
			continue // a comment inside a continued instruction
		}
		if body, ok := strings.CutSuffix(strings.TrimRight(line, " \t\r"), `\`); ok {
			cur.WriteString(body)
			cur.WriteByte(' ')
			continue
		}
		cur.WriteString(line)
		if err := flush(); err != nil {
			return nil, err
		}
	}
	// A continuation on the last line ends with the file, as in Docker.
	if err := flush(); err != nil {
		return nil, err
	}
	if len(df.stages) == 0 {
		return nil, errors.New("no FROM")
	}
	return df, nil
}

func (df *dockerfile) stage(name string) (stage, bool) {
	for _, s := range df.stages {
		if s.name == name {
			return s, true
		}
	}
	return stage{}, false
}

// goBuildCmd is the `go build` of a RUN instruction, split into its parts.
type goBuildCmd struct {
	env     []string // NAME=value before the command
	flags   []string // other flags, such as -trimpath
	ldflags string
	out     string
	pkg     string
}

// goBuild finds the first stage's `go build` command.
func (df *dockerfile) goBuild() (goBuildCmd, error) {
	for _, in := range df.stages[0].instr {
		if in.cmd != "RUN" || !strings.Contains(in.args, "go build") {
			continue
		}
		for _, part := range strings.Split(in.args, "&&") {
			words, err := shellWords(part)
			if err != nil {
				return goBuildCmd{}, fmt.Errorf("line %d: %w", in.line, err)
			}
			// RUN's own options (--mount=...) come first.
			for len(words) > 0 && strings.HasPrefix(words[0], "--") {
				words = words[1:]
			}
			var b goBuildCmd
			for len(words) > 0 && strings.Contains(words[0], "=") && !strings.HasPrefix(words[0], "-") {
				b.env = append(b.env, words[0])
				words = words[1:]
			}
			if len(words) < 2 || words[0] != "go" || words[1] != "build" {
				continue
			}
			for i := 2; i < len(words); i++ {
				w := words[i]
				switch {
				case strings.HasPrefix(w, "-ldflags="):
					b.ldflags = strings.TrimPrefix(w, "-ldflags=")
				case w == "-o" && i+1 < len(words):
					b.out = words[i+1]
					i++
				case strings.HasPrefix(w, "-"):
					b.flags = append(b.flags, w)
				default:
					b.pkg = w
				}
			}
			return b, nil
		}
	}
	return goBuildCmd{}, errors.New("no RUN with go build in the first stage")
}

// shellWords splits a POSIX shell command into words, honouring single and
// double quotes and backslash escapes (no expansion).
func shellWords(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			w.WriteByte(s[i])
			inWord = true
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated single quote")
			}
			w.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte(`"\$`+"`", s[i+1]) >= 0 {
					i++
				}
				w.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New("unterminated double quote")
			}
			inWord = true
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

func TestDockerfile(t *testing.T) {
	df, err := readDockerfile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if len(df.stages) < 2 {
		t.Fatalf("got %d stages, want a build stage and a final stage", len(df.stages))
	}
	build, final := df.stages[0], df.stages[len(df.stages)-1]

	goVersion := goDirective(t)
	if want := "golang:" + goVersion; build.image != want {
		t.Errorf("build stage FROM %s, want %s (go.mod's go %s)", build.image, want, goVersion)
	}
	b, err := df.goBuild()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(b.env, "CGO_ENABLED=0") {
		t.Errorf("go build env %q: want CGO_ENABLED=0 (a static binary for a distroless or scratch image)", b.env)
	}
	if !slices.Contains(b.flags, "-trimpath") {
		t.Errorf("go build flags %q: want -trimpath", b.flags)
	}
	if !strings.Contains(b.ldflags, "-X github.com/backhaul/backhaul/internal/app.Version=${VERSION}") {
		t.Errorf("ldflags %q: want -X github.com/backhaul/backhaul/internal/app.Version=${VERSION}", b.ldflags)
	}
	if b.pkg != "./cmd/backhaul" {
		t.Errorf("go build package %q, want ./cmd/backhaul", b.pkg)
	}
	if !slices.ContainsFunc(build.instr, func(in instruction) bool { return in.cmd == "ARG" && strings.HasPrefix(in.args, "VERSION") }) {
		t.Errorf("build stage declares no ARG VERSION")
	}

	if !regexp.MustCompile(`^(gcr\.io/distroless/static(-debian\d+)?:nonroot|scratch)$`).MatchString(final.image) {
		t.Errorf("final stage FROM %s, want distroless static nonroot or scratch", final.image)
	}
	user := ""
	var entrypoint []string
	copied := false
	for _, in := range final.instr {
		switch in.cmd {
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(in.args), &entrypoint); err != nil {
				t.Errorf("line %d: ENTRYPOINT %s: want the exec form (a JSON array): %v", in.line, in.args, err)
			}
		case "COPY":
			f := strings.Fields(in.args)
			if slices.Contains(f, "--from="+build.name) && slices.Contains(f, b.out) {
				copied = true
			}
		}
	}
	if u, _, _ := strings.Cut(user, ":"); u == "" || u == "root" || u == "0" {
		t.Errorf("final stage USER %q, want a non-root user", user)
	}
	if len(entrypoint) == 0 || path.Base(entrypoint[0]) != "backhaul" {
		t.Errorf("ENTRYPOINT %q, want the backhaul binary", entrypoint)
	}
	if !copied {
		t.Errorf("final stage does not copy %s from stage %s", b.out, build.name)
	}
	for _, s := range df.stages {
		for _, in := range s.instr {
			if in.cmd == "ADD" && regexp.MustCompile(`(?i)\b(https?|git)://|git@`).MatchString(in.args) {
				t.Errorf("line %d: ADD from a URL (%s): download in a RUN with a checksum, or COPY", in.line, in.args)
			}
		}
	}

	// The same build command, run here, gives a static binary that reports
	// the version the ldflags set.
	bin := backhaulBinary(t)
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "backhaul "+testVersion {
		t.Errorf("backhaul version: got %q (%v), want %q", out, err, "backhaul "+testVersion)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Section(".interp") != nil {
		t.Errorf("the binary asks for a dynamic loader; it would not start in a distroless static image")
	}
}

// goDirective returns go.mod's Go version as major.minor.
func goDirective(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	return string(m[1])
}

func TestParseDockerfile(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		stages  int
		wantErr bool
	}{
		{"two stages", "FROM a AS b\nRUN x \\\n  y\n# c\nFROM c\nUSER 1\n", 2, false},
		{"arg before from", "ARG X=1\nFROM a\n", 1, false},
		{"comment inside continuation", "FROM a\nRUN x \\\n# note\n  y\n", 1, false},
		{"no from", "RUN x\n", 0, true},
		{"continuation at the end", "FROM a\nRUN x \\", 1, false},
		{"bad from", "FROM a b\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			df, err := parseDockerfile(tt.text)
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if err == nil && len(df.stages) != tt.stages {
				t.Errorf("got %d stages, want %d", len(df.stages), tt.stages)
			}
		})
	}
}

func TestShellWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{`a  b`, []string{"a", "b"}},
		{`-ldflags="-s -w -X p.V=${VERSION}" -o x`, []string{"-ldflags=-s -w -X p.V=${VERSION}", "-o", "x"}},
		{`'a b'c "d\"e"`, []string{"a bc", `d"e`}},
		{`a\ b`, []string{"a b"}},
	}
	for _, tt := range tests {
		got, err := shellWords(tt.in)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("shellWords(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{`'a`, `"a`} {
		if _, err := shellWords(bad); err == nil {
			t.Errorf("shellWords(%q): got no error", bad)
		}
	}
}

func FuzzParseDockerfile(f *testing.F) {
	if b, err := os.ReadFile("../Dockerfile"); err == nil {
		f.Add(string(b))
	}
	f.Add("FROM a AS b\nRUN CGO_ENABLED=0 go build -ldflags=\"-X a=b\" -o /x ./y && true\n")
	f.Add("FROM a\nRUN x \\\n")
	f.Fuzz(func(t *testing.T, text string) {
		df, err := parseDockerfile(text)
		if err != nil {
			return
		}
		if len(df.stages) == 0 {
			t.Fatal("parsed without stages")
		}
		df.goBuild() // must not panic
	})
}

func FuzzShellWords(f *testing.F) {
	f.Add(`a "b c" 'd' e\ f`)
	f.Add(`"\`)
	f.Fuzz(func(t *testing.T, s string) {
		words, err := shellWords(s)
		if err != nil {
			return
		}
		for _, w := range words {
			if w == "" && !strings.ContainsAny(s, `"'`) {
				t.Fatalf("empty word from %q", s)
			}
		}
	})
}
