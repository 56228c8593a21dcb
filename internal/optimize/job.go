package optimize

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/httpapi"
)

// Priority orders pending jobs: a worker takes every pending high job
// before a normal one, and every normal one before a low one.
type Priority string

const (
	PriorityHigh   Priority = "high"
	PriorityNormal Priority = "normal"
	PriorityLow    Priority = "low"
)

// Priorities lists the priorities in the order workers take them.
var Priorities = []Priority{PriorityHigh, PriorityNormal, PriorityLow}

// Valid reports whether p is a known priority.
func (p Priority) Valid() bool { return slices.Contains(Priorities, p) }

// Status is where a job stands.
type Status string

const (
	StatusQueued    Status = "queued"    // waiting for a worker
	StatusRunning   Status = "running"   // a worker is solving it
	StatusSucceeded Status = "succeeded" // solved; the result is feasible
	StatusFailed    Status = "failed"    // the solver failed, or every attempt died
	StatusCancelled Status = "cancelled" // cancelled; a running job keeps its best solution
)

// Statuses lists every status.
var Statuses = []Status{StatusQueued, StatusRunning, StatusSucceeded, StatusFailed, StatusCancelled}

// Valid reports whether s is a known status.
func (s Status) Valid() bool { return slices.Contains(Statuses, s) }

// Done reports whether s is final.
func (s Status) Done() bool {
	return s == StatusSucceeded || s == StatusFailed || s == StatusCancelled
}

// Limits of a job request.
const (
	// MaxInstanceBytes bounds the text of a benchmark instance.
	MaxInstanceBytes = 2 << 20
	// MaxRequestBytes bounds the body of a job submission: the instance
	// text grows when JSON escapes its tabs and newlines.
	MaxRequestBytes = 3 << 20
	// MaxTimeLimit is the longest time limit a job may ask for.
	MaxTimeLimit = 600 * time.Second
	// DefaultTimeLimit applies when a request names none.
	DefaultTimeLimit = 30 * time.Second
	// DefaultSeed applies when a request names none.
	DefaultSeed = 1
	maxNameLen  = 200
)

// JobRequest submits a job.
type JobRequest struct {
	Name       string   `json:"name"`
	Priority   Priority `json:"priority"`     // default normal
	TimeLimitS *int     `json:"time_limit_s"` // 1 to 600; default 30
	Seed       *int64   `json:"seed"`         // 0 or more; default 1
	Problem    *Problem `json:"problem"`
}

// Problem is what a job solves. Format says which fields apply: the
// benchmark formats ("lilim", "solomon") carry the text of an instance file
// in Instance; the freight format carries trucks, loads and settings
// (format_freight.go). Another format adds its own fields here and an entry
// in formats; the job API, queue and worker stay as they are.
type Problem struct {
	Format   string           `json:"format"`
	Instance string           `json:"instance,omitempty"`
	Trucks   []FreightTruck   `json:"trucks,omitempty"`
	Loads    []FreightLoad    `json:"loads,omitempty"`
	Settings *FreightSettings `json:"settings,omitempty"`
}

// ProblemSummary describes a job's problem without its data.
type ProblemSummary struct {
	Format   string `json:"format"`
	Kind     string `json:"kind"`               // "pdptw" or "vrptw"
	Instance string `json:"instance,omitempty"` // the instance's name
	Nodes    int    `json:"nodes"`              // depot included
}

// Job is an optimization job as the API shows it.
type Job struct {
	ID              string         `json:"id"`
	OrgID           string         `json:"org_id"`
	Name            string         `json:"name"`
	Priority        Priority       `json:"priority"`
	Status          Status         `json:"status"`
	TimeLimitS      int            `json:"time_limit_s"`
	Seed            int64          `json:"seed"`
	Problem         ProblemSummary `json:"problem"`
	Progress        JobProgress    `json:"progress"`
	Attempts        int            `json:"attempts"`
	Worker          string         `json:"worker,omitempty"`
	CancelRequested bool           `json:"cancel_requested,omitempty"`
	Error           string         `json:"error,omitempty"`
	CreatedBy       string         `json:"created_by"`
	CreatedAt       time.Time      `json:"created_at"`
	StartedAt       *time.Time     `json:"started_at,omitempty"`
	FinishedAt      *time.Time     `json:"finished_at,omitempty"`
	UpdatedAt       time.Time      `json:"updated_at"`
	// Result is set once the job is done with a solution (lists leave it
	// out; the progress holds its vehicles and distance).
	Result *Result `json:"result,omitempty"`
}

// JobProgress is the best solution so far of the current attempt.
type JobProgress struct {
	Vehicles *int     `json:"vehicles,omitempty"`
	Distance *float64 `json:"distance,omitempty"`
	// FoundAfterMS is when the attempt found its best solution.
	FoundAfterMS *int64 `json:"found_after_ms,omitempty"`
	// ElapsedMS is how long the current attempt has run (or ran).
	ElapsedMS int64 `json:"elapsed_ms"`
	// Points counts the recorded improvements (GET .../progress lists them).
	Points int `json:"points"`
}

// Result is a job's solution, checked by the independent feasibility
// checker before it was stored.
type Result struct {
	Kind       string   `json:"kind"`
	Routes     [][]int  `json:"routes"` // node ids in visiting order, depot excluded
	Vehicles   int      `json:"vehicles"`
	Distance   float64  `json:"distance"`
	Feasible   bool     `json:"feasible"`
	Violations []string `json:"violations,omitempty"`
	Iterations int      `json:"iterations"`
	ElapsedMS  int64    `json:"elapsed_ms"`
	// Freight is the plan of a freight job: Routes then number each
	// truck's stops, 2i+1 the pickup of loads[i] and 2i+2 its delivery.
	Freight *FreightResult `json:"freight,omitempty"`
}

// Point is one improvement of the best solution.
type Point struct {
	Seq       int       `json:"seq"`
	Attempt   int       `json:"attempt"`
	ElapsedMS int64     `json:"elapsed_ms"`
	Vehicles  int       `json:"vehicles"`
	Distance  float64   `json:"distance"`
	Iteration int       `json:"iteration"`
	At        time.Time `json:"at"`
}

// spec is a validated job request, ready to store.
type spec struct {
	name      string
	priority  Priority
	timeLimit time.Duration
	seed      int64
	problem   Problem
	summary   ProblemSummary
}

// decodeJobRequest reads and validates a job submission body.
func decodeJobRequest(body []byte) (spec, error) {
	var req JobRequest
	if err := httpapi.DecodeBytes(body, &req); err != nil {
		return spec{}, err
	}
	return req.validate()
}

// validate checks every field, compiling the problem so that a malformed
// instance is refused at submission rather than failing in a worker.
func (r JobRequest) validate() (spec, error) {
	var fs freight.Fields
	sp := spec{name: strings.TrimSpace(r.Name), priority: r.Priority, timeLimit: DefaultTimeLimit, seed: DefaultSeed}
	switch {
	case !utf8.ValidString(sp.name) || strings.ContainsFunc(sp.name, unicode.IsControl):
		fs.Add("name", "must be printable text")
	case len(sp.name) > maxNameLen:
		fs.Add("name", "at most %d bytes", maxNameLen)
	}
	if sp.priority == "" {
		sp.priority = PriorityNormal
	} else if !sp.priority.Valid() {
		fs.Add("priority", "want high, normal or low")
	}
	if r.TimeLimitS != nil {
		if s := *r.TimeLimitS; s < 1 || s > int(MaxTimeLimit/time.Second) {
			fs.Add("time_limit_s", "must be between 1 and %d", int(MaxTimeLimit/time.Second))
		} else {
			sp.timeLimit = time.Duration(s) * time.Second
		}
	}
	if r.Seed != nil {
		if *r.Seed < 0 {
			fs.Add("seed", "must not be negative")
		} else {
			sp.seed = *r.Seed
		}
	}
	if r.Problem == nil {
		fs.Add("problem", "required")
		return sp, fs.Err()
	}
	sp.problem = *r.Problem
	f, ok := formats[r.Problem.Format]
	if !ok {
		if r.Problem.Format == "" {
			fs.Add("problem.format", "required; want one of %s", strings.Join(formatNames(), ", "))
		} else {
			fs.Add("problem.format", "unknown format %q; want one of %s", truncate(r.Problem.Format, 40), strings.Join(formatNames(), ", "))
		}
		return sp, fs.Err()
	}
	c, err := f.compile(*r.Problem)
	if err != nil {
		fs = append(fs, fieldErrors(err)...)
	}
	if err := fs.Err(); err != nil {
		return sp, err
	}
	sp.summary = c.summary()
	if sp.name == "" {
		sp.name = sp.summary.Instance
	}
	return sp, nil
}

// fieldErrors returns the field errors carried by err.
func fieldErrors(err error) []freight.FieldError {
	var fe *freight.Error
	if errors.As(err, &fe) && len(fe.Fields) > 0 {
		return fe.Fields
	}
	return []freight.FieldError{{Field: "problem", Detail: err.Error()}}
}

// printable drops control characters from s and clips it to at most n
// bytes: an instance's name line becomes a job's name.
func printable(s string, n int) string {
	s = strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s))
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// encodeProblem is the stored form of a problem.
func encodeProblem(p Problem) (string, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("encode problem: %w", err)
	}
	return string(b), nil
}

func decodeProblem(s string) (Problem, error) {
	var p Problem
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return p, fmt.Errorf("decode stored problem: %w", err)
	}
	return p, nil
}
