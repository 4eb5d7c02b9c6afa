package server

import (
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// CSV imports in the console: the upload form, then the job's page, whose
// <progress> static/console.js moves by polling the job (without script,
// the page's Refresh link does), and whose summary shows each refused
// row's values next to its errors.

// importsData is the import job page.
type importsData struct {
	Import  *importResponse
	Rows    []importRowErrors
	Columns []string
}

// importRowErrors is one refused row: its line and its errors.
type importRowErrors struct {
	Line   int
	Errors []importErrorOutput
}

func (a *API) importsPage(c *gin.Context) {
	v := a.newView(c, "Import users and cards")
	v.Data = &importsData{Columns: importColumns}
	a.show(c, "imports", v)
}

// importUpload takes the form's file as the API takes a text/csv body.
func (a *API) importUpload(c *gin.Context) {
	if !a.claimNonce(c, sitePath(c, "/imports")) {
		return
	}
	body, err := uploadedCSV(c)
	var res importResponse
	if err == nil {
		res, err = a.CreateImport(c.Request.Context(), mustPrincipal(c), currentSite(c).ID, body)
	}
	if err != nil {
		a.releaseNonce(c)
		v := a.newView(c, "Import users and cards")
		v.Data = &importsData{Columns: importColumns}
		a.formFail(c, asFileError(err), v, "imports")
		return
	}
	c.Redirect(http.StatusSeeOther, sitePath(c, "/imports/"+res.ID))
}

// asFileError puts a refused file's problem next to the file field: the
// header's column errors name columns, not fields of the form.
func asFileError(err error) error {
	e := toError(err)
	if e.Status >= 500 || (len(e.Errors) == 1 && e.Errors[0].Field == "file") {
		return err
	}
	msg := []string{e.Detail}
	for _, f := range e.Errors {
		msg = append(msg, f.Field+": "+f.Message)
	}
	return &Error{Status: e.Status, Code: e.Code, Detail: e.Detail, Errors: []FieldError{{Field: "file", Message: strings.Join(msg, "; ")}}}
}

// uploadedCSV is the form's file, at most maxImportBytes (boundConsoleBody).
func uploadedCSV(c *gin.Context) ([]byte, error) {
	fh, err := c.FormFile("file")
	if err != nil {
		return nil, errValidation(FieldError{Field: "file", Message: "choose a CSV file"})
	}
	if fh.Size > maxImportBytes {
		return nil, errValidation(FieldError{Field: "file", Message: "is larger than the limit of one import: split it"})
	}
	f, err := fh.Open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxImportBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, errValidation(FieldError{Field: "file", Message: "is empty"})
	}
	return b, nil
}

func (a *API) importPage(c *gin.Context) {
	im, err := a.GetImport(c.Request.Context(), currentSite(c).ID, c.Param("import"))
	if err != nil {
		a.consoleFail(c, err)
		return
	}
	d := &importsData{Import: &im}
	if im.FinishedAt != nil {
		d.Rows = refusedRows(im.Errors)
	}
	v := a.newView(c, "Import "+im.ID)
	v.Data = d
	a.show(c, "import", v)
}

// importProgress is the job's counts for the page's script.
func (a *API) importProgress(c *gin.Context) {
	im, err := a.GetImport(c.Request.Context(), currentSite(c).ID, c.Param("import"))
	if err != nil {
		render(c, a.log, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": im.Status, "total": im.Total, "done": im.Done, "failed": im.Failed,
		"finished": im.FinishedAt != nil})
}

// refusedRows groups the errors by row: the file itself is gone once the
// job has finished (models.FinishImport drops it), so a row is named by
// its line.
func refusedRows(errs []importErrorOutput) []importRowErrors {
	var out []importRowErrors
	at := map[int]int{}
	for _, e := range errs {
		i, seen := at[e.Line]
		if !seen {
			i = len(out)
			at[e.Line] = i
			out = append(out, importRowErrors{Line: e.Line})
		}
		out[i].Errors = append(out[i].Errors, e)
	}
	return out
}
