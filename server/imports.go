package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/lintel/lintel/models"
)

// How import jobs run (docs/integrations.md).
const (
	// importBatch rows are written per transaction, each under a
	// savepoint, with the job's progress: a resumed job restarts exactly
	// after the last committed batch.
	importBatch = 100
	// importLease is how long a worker holds a job without saving progress.
	importLease = 30 * time.Second
	// importMaxAttempts claims of a job that never finished fail it.
	importMaxAttempts = 3
	// importMaxErrors refused rows are listed; failed counts them all.
	importMaxErrors = 1000
	// importPoll is how often the progress stream reads the job.
	importPoll = 200 * time.Millisecond
)

type importResponse struct {
	ID         string              `json:"id"`
	SiteID     string              `json:"site_id"`
	Status     string              `json:"status"`
	Total      int                 `json:"total"`
	Done       int                 `json:"done"`
	Failed     int                 `json:"failed"`
	Error      string              `json:"error,omitempty"`
	Errors     []importErrorOutput `json:"errors"`
	CreatedAt  string              `json:"created_at"`
	UpdatedAt  string              `json:"updated_at"`
	FinishedAt *string             `json:"finished_at"`
}

type importErrorOutput struct {
	Line    int    `json:"line"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

func toImport(im *models.Import, errs []models.ImportError) importResponse {
	out := importResponse{ID: im.ID, SiteID: im.SiteID, Status: im.Status, Total: im.Total, Done: im.Done, Failed: im.Failed,
		Error: im.Error, Errors: make([]importErrorOutput, len(errs)), CreatedAt: rfc3339(im.CreatedAt),
		UpdatedAt: rfc3339(im.UpdatedAt), FinishedAt: rfc3339p(im.FinishedAt)}
	for i, e := range errs {
		out.Errors[i] = importErrorOutput{Line: e.Line, Field: e.Field, Message: e.Message}
	}
	return out
}

// createImport accepts a CSV file, checks its shape and size, stores it as
// a queued job and starts it; 202 with the job.
func (a *API) createImport(c *gin.Context) {
	body, err := readImportBody(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	res, err := a.CreateImport(c.Request.Context(), mustPrincipal(c), currentSite(c).ID, body)
	if err == nil {
		c.Header("Location", "/v1/sites/"+res.SiteID+"/imports/"+res.ID)
	}
	a.respond(c, http.StatusAccepted, res, err)
}

// CreateImport is the import use case (the API's and the console's
// upload): it checks the file's header and counts its rows, stores the
// job with its audit record, and starts it.
func (a *API) CreateImport(ctx context.Context, who Principal, siteID string, body []byte) (importResponse, error) {
	total, err := countImportRows(body)
	if err != nil {
		return importResponse{}, err
	}
	im := &models.Import{SiteID: siteID, Actor: who.actor(), Total: total, Body: body}
	err = a.audited(ctx, who, siteID, func(tx *models.Store) (audit, error) {
		if err := tx.CreateImport(ctx, im); err != nil {
			return audit{}, err
		}
		return audit{action: "import.created", detail: im.ID}, nil
	})
	if err != nil {
		return importResponse{}, err
	}
	go a.runImport(context.WithoutCancel(ctx), im.ID)
	return toImport(im, nil), nil
}

// readImportBody takes a text/csv body (UTF-8) of at most maxImportBytes.
func readImportBody(c *gin.Context) ([]byte, error) {
	mt, params, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || mt != "text/csv" || (params["charset"] != "" && !strings.EqualFold(params["charset"], "utf-8")) {
		return nil, &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type",
			Detail: "an import is a Content-Type: text/csv body, in UTF-8"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxImportBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &Error{Status: http.StatusRequestEntityTooLarge, Code: "import_too_large",
				Detail: fmt.Sprintf("the CSV is larger than %d bytes (%d MiB), the limit of one import: split it", maxImportBytes, maxImportBytes>>20)}
		}
		return nil, errBadRequest("the body could not be read")
	}
	return body, nil
}

func (a *API) loadImport(c *gin.Context) (*models.Import, []models.ImportError, error) {
	ctx := c.Request.Context()
	im, err := a.store.GetImport(ctx, currentSite(c).ID, c.Param("import"))
	if err != nil {
		return nil, nil, notFoundAs(err, "import")
	}
	errs, err := a.store.ImportErrors(ctx, im.ID, importMaxErrors)
	return im, errs, err
}

// importEvents streams the job's progress as Server-Sent Events: a
// "progress" event whenever the counts move, then one "done" event with the
// finished job (errors included), and the stream ends. It reads the job
// row, so it follows a job run by any instance.
func (a *API) importEvents(c *gin.Context) {
	ctx := c.Request.Context()
	im, errs, err := a.loadImport(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	w := c.Writer
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	last := ""
	tick := time.NewTicker(importPoll)
	defer tick.Stop()
	for {
		finished := im.Status == models.ImportDone || im.Status == models.ImportFailed
		event := "progress"
		if finished {
			event = "done"
		}
		js, _ := json.Marshal(toImport(im, errs))
		if state := fmt.Sprint(im.Status, im.Done, im.Failed); state != last || finished {
			if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, js); err != nil {
				return
			}
			w.Flush()
			last = state
		}
		if finished {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if im, errs, err = a.loadImport(c); err != nil {
			return
		}
		if im.Status != models.ImportDone && im.Status != models.ImportFailed {
			errs = nil // the list comes with the done event
		}
	}
}

// RunImports resumes import jobs until ctx ends: queued ones, and running
// ones whose worker stopped (a restart, a crash), checked every interval.
func (a *API) RunImports(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		a.ResumeImports(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ResumeImports runs, one after the other, the jobs that wait for a worker.
func (a *API) ResumeImports(ctx context.Context) {
	ids, err := a.store.ClaimableImports(ctx)
	if err != nil && ctx.Err() == nil {
		a.log.WarnContext(ctx, "imports: listing jobs failed", "error", err)
	}
	for _, id := range ids {
		a.runImport(ctx, id)
	}
}

// runImport claims the job and runs it to its end, unless another worker
// has it. A job claimed importMaxAttempts times without finishing fails.
func (a *API) runImport(ctx context.Context, id string) {
	im, err := a.store.ClaimImport(ctx, id, models.NewID("wrk"), importLease)
	if err != nil {
		if !errors.Is(err, models.ErrNotFound) {
			a.log.WarnContext(ctx, "imports: claim failed", "import", id, "error", err)
		}
		return
	}
	defer func() {
		if r := recover(); r != nil {
			a.log.ErrorContext(ctx, "imports: job panicked", "import", id, "panic", fmt.Sprint(r))
			_ = a.store.FinishImport(ctx, im, models.ImportFailed, "an internal error stopped the import")
		}
	}()
	if im.Attempts > importMaxAttempts {
		_ = a.store.FinishImport(ctx, im, models.ImportFailed,
			fmt.Sprintf("the import was interrupted %d times and was given up; rows before line %d were processed", importMaxAttempts, im.Position+2))
		return
	}
	if err := a.importRows(ctx, im); err != nil {
		// The lease runs out and RunImports resumes the job after the last
		// committed batch.
		a.log.WarnContext(ctx, "imports: job stopped", "import", id, "error", err)
		return
	}
	if err := a.store.FinishImport(ctx, im, models.ImportDone, ""); err != nil {
		a.log.WarnContext(ctx, "imports: finishing failed", "import", id, "error", err)
	}
}

// importRows processes the job's rows after im.Position, in batches.
func (a *API) importRows(ctx context.Context, im *models.Import) error {
	groups, err := a.groupsByName(ctx, im.SiteID)
	if err != nil {
		return err
	}
	ir, err := newImportReader(im.Body)
	if err != nil {
		return err
	}
	for skip := 0; skip < im.Position; skip++ {
		if _, err := ir.next(); err != nil {
			return err
		}
	}
	listed := im.Failed
	for eof := false; !eof; {
		var errs []models.ImportError
		refuse := func(line int, fes []FieldError) {
			im.Failed++
			for _, fe := range fes {
				if listed < importMaxErrors {
					errs = append(errs, models.ImportError{ImportID: im.ID, Line: line, Field: fe.Field, Message: fe.Message})
					listed++
				}
			}
		}
		// One transaction per batch: the rows, then the progress, so a
		// resumed job restarts exactly after the last committed batch.
		err := a.store.Tx(ctx, func(tx *models.Store) error {
			var rows []models.ImportRow
			var lines []int
			for n := 0; n < importBatch; n++ {
				row, err := ir.next()
				if errors.Is(err, io.EOF) {
					eof = true
					break
				}
				if err != nil {
					return err
				}
				im.Position++
				r, fes := importRowInput(im.SiteID, groups, row)
				if len(fes) > 0 {
					refuse(row.line, fes)
					continue
				}
				rows, lines = append(rows, r), append(lines, row.line)
			}
			refusals, err := tx.ImportBatch(ctx, im.SiteID, im.Actor, rows)
			if err != nil {
				return err
			}
			for i, ref := range refusals {
				if ref == (models.ImportRefusal{}) {
					im.Done++
					continue
				}
				refuse(lines[i], []FieldError{{Field: ref.Field, Message: ref.Message}})
			}
			return tx.SaveImportProgress(ctx, im, errs, importLease)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (a *API) groupsByName(ctx context.Context, siteID string) (map[string]string, error) {
	out := map[string]string{}
	p := models.Page{Limit: 200}
	for {
		rows, next, err := a.store.ListGroups(ctx, siteID, p)
		if err != nil {
			return nil, err
		}
		for _, g := range rows {
			if k := strings.ToLower(g.Name); out[k] == "" {
				out[k] = g.ID
			}
		}
		if next == "" {
			return out, nil
		}
		p.After = next
	}
}

// importColumn names the CSV column of an API field in row errors.
var importColumn = map[string]string{"number": "card_number", "kind": "card_kind", "label": "card_label", "group_id": "group"}

// importRowInput validates one row as POST …/users and POST …/cards do
// and returns what models.ImportBatch lands (the user is found by phone,
// then email, or created; the card given unless they hold it already), or
// the row's field errors.
func importRowInput(siteID string, groups map[string]string, row importRow) (models.ImportRow, []FieldError) {
	if row.bad != "" {
		return models.ImportRow{}, []FieldError{{Field: "", Message: "the row " + row.bad}}
	}
	f := row.fields
	var v validator
	u := models.User{
		SiteID: siteID,
		Name:   v.name("name", f["name"], 200),
		Email:  v.email("email", f["email"]),
		Phone:  v.phone("phone", f["phone"]),
	}
	v.check(strings.TrimSpace(f["email"]+f["phone"]) != "", "phone", "a phone or an email is required, to find the user again on a re-import")
	if g := strings.TrimSpace(f["group"]); g != "" {
		id, ok := groups[strings.ToLower(g)]
		v.check(ok, "group", fmt.Sprintf("%q is not a group of this site", g))
		u.GroupID = &id
	}
	out := models.ImportRow{User: u}
	if strings.TrimSpace(f["card_number"]) != "" {
		card := v.card(cardRequest{Number: f["card_number"], Kind: strings.TrimSpace(f["card_kind"]), Label: f["card_label"]})
		out.Card = &models.Credential{SiteID: siteID, Kind: card.Kind, Number: card.Number, Label: card.Label}
	} else {
		v.check(strings.TrimSpace(f["card_kind"]+f["card_label"]) == "", "card_number", "is required when card_kind or card_label is given")
	}
	if len(v.errs) > 0 {
		return models.ImportRow{}, renameImportFields(v.errs)
	}
	return out, nil
}

func renameImportFields(fes []FieldError) []FieldError {
	for i := range fes {
		if col, ok := importColumn[fes[i].Field]; ok {
			fes[i].Field = col
		}
	}
	return fes
}
