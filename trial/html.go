package trial

import (
	"bytes"
	"fmt"
	"html"
	"image/color"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Plot ids in report.html, which the browser test looks for.
var plotIDs = []string{"plot-finality", "plot-overhead", "plot-participation", "plot-throughput"}

// series is one line of a plot: a consensus under a scenario.
type series struct {
	name string
	pts  plotter.XYs
}

// seriesKey groups cells into lines.
func seriesKey(c Cell) string {
	if c.Scenario == NoFaults {
		return c.Consensus
	}
	return c.Consensus + " / " + c.Scenario
}

// Point is one cell as the report's plots take it.
type Point struct {
	Cell                                Cell
	P50, KB, Participation, FinalPerSec float64 // seconds, KB per node per block, share, transfers/s
	// Skip leaves the cell out of the plots: it failed, finalized
	// nothing, or stalled.
	Skip bool
}

// byValidators averages a figure over runs, per line and validator count,
// skipping the cells marked Skip.
func byValidators(rows []Point, y func(Point) float64) []series {
	type acc struct{ sum, n float64 }
	m := map[string]map[int]*acc{}
	for _, x := range rows {
		if x.Skip {
			continue
		}
		k := seriesKey(x.Cell)
		if m[k] == nil {
			m[k] = map[int]*acc{}
		}
		a := m[k][x.Cell.Validators]
		if a == nil {
			a = &acc{}
			m[k][x.Cell.Validators] = a
		}
		a.sum += y(x)
		a.n++
	}
	var out []series
	for k, byN := range m {
		s := series{name: k}
		ns := make([]int, 0, len(byN))
		for n := range byN {
			ns = append(ns, n)
		}
		sort.Ints(ns)
		for _, n := range ns {
			s.pts = append(s.pts, plotter.XY{X: float64(n), Y: byN[n].sum / byN[n].n})
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// scatter gives each cell one point, per line.
func scatter(rows []Point, x, y func(Point) float64) []series {
	idx := map[string]int{}
	var out []series
	for _, r := range rows {
		if r.Skip {
			continue
		}
		k := seriesKey(r.Cell)
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, series{name: k})
		}
		out[i].pts = append(out[i].pts, plotter.XY{X: x(r), Y: y(r)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

var palette = []color.RGBA{{31, 119, 180, 255}, {214, 39, 40, 255}, {44, 160, 44, 255}, {255, 127, 14, 255}, {148, 103, 189, 255}, {140, 86, 75, 255}, {23, 190, 207, 255}, {127, 127, 127, 255}}

// svgPlot draws lines (or points) and returns the SVG element.
func svgPlot(title, xl, yl string, ss []series, lines bool) (string, error) {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, xl, yl
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	for i, s := range ss {
		if len(s.pts) == 0 {
			continue
		}
		c := palette[i%len(palette)]
		if lines && len(s.pts) > 1 {
			l, err := plotter.NewLine(s.pts)
			if err != nil {
				return "", err
			}
			l.Color = c
			l.Width = vg.Points(1.5)
			p.Add(l)
		}
		sc, err := plotter.NewScatter(s.pts)
		if err != nil {
			return "", err
		}
		sc.Color = c
		sc.Shape = draw.CircleGlyph{}
		sc.Radius = vg.Points(3)
		p.Add(sc)
		p.Legend.Add(s.name, sc)
	}
	w, err := p.WriterTo(7*vg.Inch, 4*vg.Inch, "svg")
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if _, err := w.WriteTo(&b); err != nil {
		return "", err
	}
	out := b.String()
	if i := strings.Index(out, "<svg"); i >= 0 { // drop the XML prolog: inline in HTML
		out = out[i:]
	}
	return out, nil
}

// htmlOf is report.html: the description, the four plots and the table,
// in one file with nothing to fetch.
func htmlOf(s *Spec, rs []Result) (string, error) {
	points := make([]Point, len(rs))
	failed := make([]bool, len(rs))
	for i, r := range rs {
		x := rowOf(r)
		points[i] = Point{Cell: r.Cell, P50: x.p50, KB: (x.bytes + x.recvBytes) / 1000, Participation: x.participation,
			FinalPerSec: x.finalPerSec, Skip: x.err != "" || x.final == 0 || x.stalled}
		failed[i] = r.Error != ""
	}
	return Page("Trial "+s.Name, describe(s), "stake that proposed or voted (%)", points, csvHeader, records(rs), failed)
}

// Table is a further table of a Page, under its own heading.
type Table struct {
	Title, Note string
	Header      []string
	Rows        [][]string
}

// Page is a self-contained HTML report: title, description, the four
// plots of points (participation under the axis label given), the table of
// rows under header (failed rows marked), then the extra tables. trellis
// sim writes its report.html with it too.
func Page(title, desc, participation string, points []Point, header []string, rows [][]string, failed []bool, extra ...Table) (string, error) {
	plots := []struct {
		id, title, xl, yl string
		ss                []series
		lines             bool
	}{
		{plotIDs[0], "Finality vs validators", "validators", "submit→final p50 (s)", byValidators(points, func(x Point) float64 { return x.P50 }), true},
		{plotIDs[1], "Overhead per node per final block", "validators", "consensus KB sent + received", byValidators(points, func(x Point) float64 { return x.KB }), true},
		{plotIDs[2], "Participants vs finality", "submit→final p50 (s)", participation, scatter(points, func(x Point) float64 { return x.P50 }, func(x Point) float64 { return 100 * x.Participation }), false},
		{plotIDs[3], "Throughput vs latency", "finalized transfers/s", "submit→final p50 (s)", scatter(points, func(x Point) float64 { return x.FinalPerSec }, func(x Point) float64 { return x.P50 }), false},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>%s</title>\n", html.EscapeString(title))
	b.WriteString("<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}figure{margin:1em 0}" +
		"table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}" +
		"td:first-child,th:first-child{text-align:left}.fail{color:#b00;font-weight:bold}</style></head><body>\n")
	fmt.Fprintf(&b, "<h1>%s</h1>\n<p>%s</p>\n", html.EscapeString(title), html.EscapeString(desc))
	for _, p := range plots {
		svg, err := svgPlot(p.title, p.xl, p.yl, p.ss, p.lines)
		if err != nil {
			return "", fmt.Errorf("plot %s: %w", p.id, err)
		}
		fmt.Fprintf(&b, "<figure id=\"%s\">%s<figcaption>%s</figcaption></figure>\n", p.id, svg, html.EscapeString(p.title))
	}
	b.WriteString("<h2>Cells</h2>\n<table><tr>")
	for _, h := range header {
		fmt.Fprintf(&b, "<th>%s</th>", html.EscapeString(h))
	}
	b.WriteString("</tr>\n")
	for i, rec := range rows {
		cls := ""
		if i < len(failed) && failed[i] {
			cls = " class=\"fail\""
		}
		fmt.Fprintf(&b, "<tr%s>", cls)
		for _, f := range rec {
			fmt.Fprintf(&b, "<td>%s</td>", html.EscapeString(f))
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</table>\n")
	for _, t := range extra {
		fmt.Fprintf(&b, "<h2>%s</h2>\n<p>%s</p>\n<table><tr>", html.EscapeString(t.Title), html.EscapeString(t.Note))
		for _, h := range t.Header {
			fmt.Fprintf(&b, "<th>%s</th>", html.EscapeString(h))
		}
		b.WriteString("</tr>\n")
		for _, rec := range t.Rows {
			b.WriteString("<tr>")
			for _, f := range rec {
				fmt.Fprintf(&b, "<td>%s</td>", html.EscapeString(f))
			}
			b.WriteString("</tr>\n")
		}
		b.WriteString("</table>\n")
	}
	b.WriteString("<p>Raw figures: results.json (and results.csv for a trial) beside this file.</p>\n</body></html>\n")
	return b.String(), nil
}
