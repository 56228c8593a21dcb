package scalesim

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// timelineBuckets is how many columns the text report's replica timeline has.
const timelineBuckets = 24

// WriteText writes a readable report of one run, or of several side by side
// when comparing configurations on the same scenario.
func WriteText(w io.Writer, runs ...*Result) error {
	if len(runs) == 0 {
		return fmt.Errorf("no runs to report")
	}
	first := runs[0]
	var b bytes.Buffer
	fmt.Fprintf(&b, "scenario %s: %s\n", first.Scenario, first.Description)
	fmt.Fprintf(&b, "start %s, %s simulated in %s steps, HPA sync every 15s\n",
		first.Start.Format(time.RFC3339), secondsDuration(first.DurationSeconds), secondsDuration(first.StepSeconds))
	for _, r := range runs {
		fmt.Fprintf(&b, "configuration %q%s: nodes $%.2f (pods' share $%.2f), %.1f minutes above target latency (all services)\n",
			r.Label, predictiveNote(r), r.CostUSD, r.PodCostUSD, r.MinutesAboveTarget)
	}
	b.WriteString("\n")

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := "service\tpeak load/s\t"
	for _, r := range runs {
		p := ""
		if len(runs) > 1 {
			p = r.Label + " "
		}
		header += p + "min-max\t" + p + "low\t" + p + "peak\t" + p + "mean\t" + p + "min>target\t" + p + "worst p99\t" + p + "cost $\t"
	}
	fmt.Fprintln(tw, header)
	for i, s := range first.Services {
		line := fmt.Sprintf("%s\t%s\t", s.Service, number(s.PeakLoad))
		for _, r := range runs {
			x := r.Services[i]
			line += fmt.Sprintf("%d-%d\t%d\t%d\t%.2f\t%.1f\t%s\t%.2f\t", x.MinReplicas, x.MaxReplicas, x.LowReplicas, x.PeakReplicas, x.MeanReplicas,
				x.MinutesAboveTarget, latencyText(x.WorstLatencyMS), x.CostUSD)
		}
		fmt.Fprintln(tw, line)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	bucket := first.DurationSeconds / timelineBuckets
	fmt.Fprintf(&b, "\nreplicas, the most in each %s:\n", secondsDuration(bucket))
	tw = tabwriter.NewWriter(&b, 0, 0, 1, ' ', 0)
	for i, s := range first.Services {
		for _, r := range runs {
			name := s.Service
			if len(runs) > 1 {
				name += " (" + r.Label + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\n", name, bucketMax(r.Services[i].Timeline, bucket))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	b.WriteString("\nnodes:\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for i, g := range first.NodeGroups {
		for _, r := range runs {
			x := r.NodeGroups[i]
			name := x.Name
			if len(runs) > 1 {
				name += " (" + r.Label + ")"
			}
			how := "scaled"
			if !x.Simulated {
				how = "at its minimum"
			}
			fmt.Fprintf(tw, "%s\t%s\t$%.3f/h\t%s\tmin %d\tpeak %d\t%.1f node-h\t$%.2f\n",
				name, g.InstanceType, g.HourlyUSD, how, x.MinNodes, x.PeakNodes, x.NodeHours, x.CostUSD)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

// runName labels a run in the chart's legend.
func runName(r *Result) string {
	if r.Predictive && !strings.Contains(r.Label, "predictive") {
		return r.Label + " + predictive"
	}
	return r.Label
}

func predictiveNote(r *Result) string {
	if r.Predictive {
		return " with predictive scaling"
	}
	return ""
}

func latencyText(ms float64) string {
	switch {
	case ms < 0:
		return "none ready"
	case ms >= 10000:
		return fmt.Sprintf("%.0f s", ms/1000)
	case ms >= 1000:
		return fmt.Sprintf("%.1f s", ms/1000)
	}
	return fmt.Sprintf("%.1f ms", ms)
}

// number prints a load with thousands separators, keeping small rates readable.
func number(v float64) string {
	if v < 10 {
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	var out []byte
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, c)
	}
	return string(out)
}

func secondsDuration(s float64) string {
	return time.Duration(s * float64(time.Second)).String()
}

// bucketMax is the timeline's highest replica count in each bucket.
func bucketMax(points []Point, bucket float64) string {
	peaks := make([]int, timelineBuckets)
	for _, p := range points {
		// A point closes its sample, so it belongs to the bucket it ends in.
		i := int(math.Ceil(p.OffsetSeconds/bucket)) - 1
		i = max(0, min(timelineBuckets-1, i))
		peaks[i] = max(peaks[i], p.Replicas)
	}
	var parts []string
	for _, p := range peaks {
		parts = append(parts, fmt.Sprintf("%2d", p))
	}
	return strings.Join(parts, " ")
}

// WriteJSON writes one run as an object, several as an array, indented.
func WriteJSON(w io.Writer, runs ...*Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if len(runs) == 1 {
		return enc.Encode(runs[0])
	}
	return enc.Encode(runs)
}

// SVG layout.
const (
	svgWidth  = 960
	panelH    = 110
	panelGap  = 34
	marginL   = 56
	marginR   = 64
	marginTop = 64
)

var svgColors = []string{"#1f77b4", "#d62728", "#2ca02c"}

// WriteSVG draws, for every service and simulated node group, the load (a
// grey area on its own scale, right axis) and each run's replicas or nodes
// (step lines, left axis) over time.
func WriteSVG(w io.Writer, runs ...*Result) error {
	if len(runs) == 0 {
		return fmt.Errorf("no runs to draw")
	}
	first := runs[0]
	var groups []int
	for i, g := range first.NodeGroups {
		if g.Simulated {
			groups = append(groups, i)
		}
	}
	panels := len(first.Services) + len(groups)
	height := marginTop + panels*(panelH+panelGap) + 10
	plotW := float64(svgWidth - marginL - marginR)
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n",
		svgWidth, height, svgWidth, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/>`+"\n", svgWidth, height)
	title := fmt.Sprintf("scenario %s, %s", first.Scenario, secondsDuration(first.DurationSeconds))
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="14" font-weight="bold">%s</text>`+"\n", marginL, esc(title))
	x := marginL
	for i, r := range runs {
		label := runName(r)
		fmt.Fprintf(&b, `<line x1="%d" y1="38" x2="%d" y2="38" stroke="%s" stroke-width="2"%s/>`, x, x+20, svgColors[i%len(svgColors)], dash(i))
		fmt.Fprintf(&b, `<text x="%d" y="42">%s replicas</text>`+"\n", x+24, esc(label))
		x += 40 + 7*len(label) + 60
	}
	fmt.Fprintf(&b, `<rect x="%d" y="32" width="20" height="10" fill="#ccc"/><text x="%d" y="42">load</text>`+"\n", x, x+24)

	xOf := func(offset float64) float64 { return marginL + plotW*offset/first.DurationSeconds }
	for p := range panels {
		top := float64(marginTop + p*(panelH+panelGap))
		var name string
		var loads []Point
		var series [][]Point
		yMax := 1.0
		if p < len(first.Services) {
			s := first.Services[p]
			name, loads = s.Service+" (load in "+s.Unit+"/s, right axis)", s.Timeline
			yMax = float64(s.MaxReplicas)
			for _, r := range runs {
				series = append(series, r.Services[p].Timeline)
				yMax = max(yMax, float64(r.Services[p].MaxReplicas))
			}
		} else {
			gi := groups[p-len(first.Services)]
			g := first.NodeGroups[gi]
			name = "nodes: " + g.Name + " (" + g.InstanceType + ")"
			for _, r := range runs {
				ng := r.NodeGroups[gi]
				pts := make([]Point, len(ng.Timeline))
				for k, n := range ng.Timeline {
					pts[k] = Point{OffsetSeconds: first.SampleSeconds * float64(k+1), Replicas: n}
					yMax = max(yMax, float64(n))
				}
				series = append(series, pts)
			}
		}
		yOf := func(v, top float64) float64 { return top + panelH - panelH*v/yMax }
		fmt.Fprintf(&b, `<text x="%d" y="%.0f" font-weight="bold">%s</text>`+"\n", marginL, top-6, esc(name))
		fmt.Fprintf(&b, `<rect x="%d" y="%.0f" width="%.0f" height="%d" fill="none" stroke="#999"/>`+"\n", marginL, top, plotW, panelH)
		if len(loads) > 0 {
			peak := 0.0
			for _, pt := range loads {
				peak = max(peak, pt.Load)
			}
			if peak > 0 {
				var path strings.Builder
				fmt.Fprintf(&path, "M%.1f %.1f", xOf(0), top+panelH)
				for _, pt := range loads {
					fmt.Fprintf(&path, " L%.1f %.1f", xOf(pt.OffsetSeconds), top+panelH-panelH*pt.Load/peak)
				}
				fmt.Fprintf(&path, " L%.1f %.1f Z", xOf(loads[len(loads)-1].OffsetSeconds), top+panelH)
				fmt.Fprintf(&b, `<path d="%s" fill="#ccc" stroke="none"/>`+"\n", path.String())
				fmt.Fprintf(&b, `<text x="%d" y="%.0f">%s</text>`+"\n", svgWidth-marginR+4, top+10, number(peak))
				fmt.Fprintf(&b, `<text x="%d" y="%.0f">0</text>`+"\n", svgWidth-marginR+4, top+panelH)
			}
		}
		fmt.Fprintf(&b, `<text x="%d" y="%.0f" text-anchor="end">%.0f</text>`+"\n", marginL-4, top+10, yMax)
		fmt.Fprintf(&b, `<text x="%d" y="%.0f" text-anchor="end">0</text>`+"\n", marginL-4, top+panelH)
		for i, pts := range series {
			if len(pts) == 0 {
				continue
			}
			var path strings.Builder
			prev := pts[0].Replicas
			fmt.Fprintf(&path, "M%.1f %.1f", xOf(0), yOf(float64(prev), top))
			for _, pt := range pts {
				x := xOf(pt.OffsetSeconds)
				if pt.Replicas != prev {
					fmt.Fprintf(&path, " H%.1f V%.1f", x, yOf(float64(pt.Replicas), top))
					prev = pt.Replicas
				}
			}
			fmt.Fprintf(&path, " H%.1f", xOf(pts[len(pts)-1].OffsetSeconds))
			fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="1.5"%s/>`+"\n", path.String(), svgColors[i%len(svgColors)], dash(i))
		}
		ticks := int(math.Min(24, first.DurationSeconds/3600))
		for k := 0; k <= ticks; k++ {
			off := first.DurationSeconds * float64(k) / float64(max(1, ticks))
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#999"/>`, xOf(off), top+panelH, xOf(off), top+panelH+4)
			if k%2 == 0 || ticks <= 12 {
				fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle" font-size="9">%s</text>`, xOf(off), top+panelH+14, esc(tickLabel(first.Start, off, first.DurationSeconds)))
			}
			b.WriteString("\n")
		}
	}
	b.WriteString("</svg>\n")
	_, err := w.Write(b.Bytes())
	return err
}

func dash(i int) string {
	if i == 0 {
		return ""
	}
	return ` stroke-dasharray="6 3"`
}

func tickLabel(start time.Time, offset, duration float64) string {
	t := start.Add(time.Duration(offset * float64(time.Second)))
	if duration > 2*86400 {
		return t.Format("Jan 2 15h")
	}
	return t.Format("15:04")
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
