package simulate

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/backhaul/backhaul/internal/geo"
)

// The typed calls the world makes; each names its endpoint by its route
// pattern so that statistics group them.

type session struct {
	Token string `json:"token"`
	User  struct {
		ID string `json:"id"`
	} `json:"user"`
	Organization struct {
		ID string `json:"id"`
	} `json:"organization"`
}

type idOnly struct {
	ID string `json:"id"`
}

type apiLoad struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

type place struct {
	City  string  `json:"city,omitempty"`
	State string  `json:"state,omitempty"`
	Lat   float64 `json:"lat,omitempty"`
	Lon   float64 `json:"lon,omitempty"`
}

type window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

func (c *Client) signup(ctx context.Context, kind, org, email, password string) (session, error) {
	in := map[string]any{"org_name": org, "org_kind": kind, "name": org + " admin", "email": email, "password": password}
	if kind == "carrier" {
		in["usdot"], in["mc"] = "1000000", "100000"
	}
	var s session
	err := c.Do(ctx, http.MethodPost, "POST /api/v1/auth/signup", "/api/v1/auth/signup", "", in, &s)
	return s, err
}

func (c *Client) apiKey(ctx context.Context, admin, name, role, driverID string) (string, error) {
	in := map[string]any{"name": name, "role": role}
	if driverID != "" {
		in["driver_id"] = driverID
	}
	var out struct {
		Secret string `json:"secret"`
	}
	err := c.Do(ctx, http.MethodPost, "POST /api/v1/api-keys", "/api/v1/api-keys", admin, in, &out)
	return out.Secret, err
}

func (c *Client) addTruck(ctx context.Context, token, unit, eq string, capacity int) (string, error) {
	var out idOnly
	err := c.Do(ctx, http.MethodPost, "POST /api/v1/trucks", "/api/v1/trucks", token,
		map[string]any{"unit": unit, "equipment": eq, "capacity_lbs": capacity}, &out)
	return out.ID, err
}

func (c *Client) addDriver(ctx context.Context, token, name string, home City, eq string, capacity int, truckID string) (string, error) {
	var out idOnly
	err := c.Do(ctx, http.MethodPost, "POST /api/v1/drivers", "/api/v1/drivers", token, map[string]any{
		"name": name, "home_base": place{City: home.Name, State: home.State}, "equipment": eq,
		"capacity_lbs": capacity, "truck_id": truckID}, &out)
	return out.ID, err
}

func (c *Client) postLoad(ctx context.Context, token string, in map[string]any) (apiLoad, error) {
	var out apiLoad
	err := c.Do(ctx, http.MethodPost, "POST /api/v1/loads", "/api/v1/loads", token, in, &out)
	return out, err
}

func (c *Client) getLoad(ctx context.Context, token, id string) (apiLoad, error) {
	var out apiLoad
	err := c.Do(ctx, http.MethodGet, "GET /api/v1/loads/{id}", "/api/v1/loads/"+url.PathEscape(id), token, nil, &out)
	return out, err
}

func (c *Client) setStatus(ctx context.Context, token, id, status, note string) error {
	in := map[string]any{"status": status}
	if note != "" {
		in["note"] = note
	}
	return c.Do(ctx, http.MethodPost, "POST /api/v1/loads/{id}/status", "/api/v1/loads/"+url.PathEscape(id)+"/status", token, in, nil)
}

func (c *Client) book(ctx context.Context, token, loadID, driverID, truckID string) error {
	return c.Do(ctx, http.MethodPost, "POST /api/v1/bookings", "/api/v1/bookings", token,
		map[string]any{"load_id": loadID, "driver_id": driverID, "truck_id": truckID}, nil)
}

func (c *Client) driverStatus(ctx context.Context, token, driverID, status string, hos map[string]int) error {
	in := map[string]any{"status": status}
	if hos != nil {
		in["hos"] = hos
	}
	return c.Do(ctx, http.MethodPost, "POST /api/v1/drivers/{id}/status", "/api/v1/drivers/"+url.PathEscape(driverID)+"/status", token, in, nil)
}

type boardPage struct {
	Items []struct {
		ID       string  `json:"id"`
		Deadhead float64 `json:"deadhead_miles"`
	} `json:"items"`
}

func (c *Client) board(ctx context.Context, token string, at geo.Point, radius float64, eq string, limit int) (boardPage, error) {
	q := url.Values{}
	q.Set("origin_lat", strconv.FormatFloat(at.Lat, 'f', 5, 64))
	q.Set("origin_lon", strconv.FormatFloat(at.Lon, 'f', 5, 64))
	q.Set("radius_mi", strconv.FormatFloat(radius, 'f', 0, 64))
	q.Set("equipment", eq)
	q.Set("sort", "deadhead")
	q.Set("limit", strconv.Itoa(limit))
	var out boardPage
	err := c.Do(ctx, http.MethodGet, "GET /api/v1/board", "/api/v1/board?"+q.Encode(), token, nil, &out)
	return out, err
}

type recommendations struct {
	Items []struct {
		Load idOnly `json:"load"`
	} `json:"items"`
}

func (c *Client) recommend(ctx context.Context, token, driverID string, limit int) (recommendations, error) {
	var out recommendations
	err := c.Do(ctx, http.MethodGet, "GET /api/v1/recommendations/drivers/{id}/loads",
		"/api/v1/recommendations/drivers/"+url.PathEscape(driverID)+"/loads?limit="+strconv.Itoa(limit), token, nil, &out)
	return out, err
}

type positionReport struct {
	DriverID string    `json:"driver_id,omitempty"`
	Time     time.Time `json:"time"`
	Lat      float64   `json:"lat"`
	Lon      float64   `json:"lon"`
	Speed    float64   `json:"speed_mph"`
	Heading  float64   `json:"heading_deg"`
	Accuracy float64   `json:"accuracy_m"`
}

type positionResult struct {
	Accepted int `json:"accepted"`
	Rejected []struct {
		Index  int    `json:"index"`
		Reason string `json:"reason"`
	} `json:"rejected"`
}

func (c *Client) positions(ctx context.Context, token string, fixes []positionReport) (positionResult, error) {
	var out positionResult
	err := c.Do(ctx, http.MethodPost, "POST /api/v1/positions", "/api/v1/positions", token, fixes, &out)
	return out, err
}

// uploadPOD posts a proof of delivery as multipart form data (field `kind`
// and a `file` part), the usual shape of document uploads.
func (c *Client) uploadPOD(ctx context.Context, token, loadID, name string, content []byte) error {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("kind", "pod")
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, name))
	h.Set("Content-Type", "application/pdf")
	fw, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	if _, err := fw.Write(content); err != nil {
		return err
	}
	if err := mw.Close(); err != nil {
		return err
	}
	return c.DoRaw(ctx, http.MethodPost, "POST /api/v1/loads/{id}/documents", "/api/v1/loads/"+url.PathEscape(loadID)+"/documents",
		token, mw.FormDataContentType(), buf.Bytes(), nil)
}

func (c *Client) countLoads(ctx context.Context, token, status string) (int, error) {
	n, cursor := 0, ""
	for {
		q := url.Values{"status": {status}, "limit": {"200"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page struct {
			Items      []idOnly `json:"items"`
			NextCursor string   `json:"next_cursor"`
		}
		if err := c.Do(ctx, http.MethodGet, "GET /api/v1/loads", "/api/v1/loads?"+q.Encode(), token, nil, &page); err != nil {
			return n, err
		}
		n += len(page.Items)
		if page.NextCursor == "" {
			return n, nil
		}
		cursor = page.NextCursor
	}
}

// podPDF is a one-page PDF carrying lines of text: what a driver's scanning
// app would upload as the proof of delivery.
func podPDF(lines []string) []byte {
	var content bytes.Buffer
	content.WriteString("BT /F1 12 Tf 72 720 Td 14 TL\n")
	for _, l := range lines {
		l = strings.NewReplacer(`\`, `\\`, "(", `\(`, ")", `\)`).Replace(l)
		fmt.Fprintf(&content, "(%s) '\n", l)
	}
	content.WriteString("ET\n")
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", content.Len(), content.String()),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}
