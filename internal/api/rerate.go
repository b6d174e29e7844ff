package api

import (
	"net/http"
	"time"

	"github.com/shopspring/decimal"

	"github.com/calltrail/calltrail/billing"
	"github.com/calltrail/calltrail/internal/store"
)

// A rerateRequest is POST /api/v1/rerate's body: which calls, the rate
// plan to price them with (the text of a rate file, as configs/rates.yaml),
// and who pays (Options.Billing for what it leaves out).
type rerateRequest struct {
	From           string   `json:"from"`
	To             string   `json:"to"`
	TZ             string   `json:"tz"`
	Server         string   `json:"server"`
	Account        string   `json:"account"`
	Rates          string   `json:"rates"`
	RatesName      string   `json:"rates_name"`
	Trunks         []string `json:"trunks"`
	Legs           string   `json:"legs"`
	Attribution    string   `json:"attribution"`
	DefaultAccount string   `json:"default_account"`
	DryRun         bool     `json:"dry_run"`
}

type rerateTotalJSON struct {
	Account     string          `json:"account"`
	Currency    string          `json:"currency"`
	Old         decimal.Decimal `json:"old"`
	New         decimal.Decimal `json:"new"`
	Delta       decimal.Decimal `json:"delta"`
	OldUnpriced int             `json:"old_unpriced"`
	NewUnpriced int             `json:"new_unpriced"`
}

type rerateJSON struct {
	ID        uint64            `json:"id"`
	DryRun    bool              `json:"dry_run"`
	At        time.Time         `json:"at"`
	Rates     string            `json:"rates"`
	From      time.Time         `json:"from"`
	To        time.Time         `json:"to"`
	Selection string            `json:"selection,omitempty"`
	Calls     int               `json:"calls"`
	Changed   int               `json:"changed"`
	Totals    []rerateTotalJSON `json:"totals"`
}

// maxRatesBody bounds a rerate request: a rate plan of some ten thousand
// prefixes.
const maxRatesBody = 4 << 20

func (s *server) rerate(w http.ResponseWriter, r *http.Request) error {
	var req rerateRequest
	if err := decodeBody(w, r, maxRatesBody, &req, `{"from", "to", "rates", …}`); err != nil {
		return err
	}
	loc := time.UTC
	if req.TZ != "" {
		l, err := time.LoadLocation(req.TZ)
		if err != nil {
			return badParam("tz", "unknown time zone %q", req.TZ)
		}
		loc = l
	}
	if req.From == "" || req.To == "" {
		return badParam("from", "from and to are required: a rerate names its period")
	}
	f := store.Filter{Server: req.Server, Account: req.Account}
	var err error
	if f.From, err = ParseTime(req.From, loc, false); err != nil {
		return badParam("from", "%v", err)
	}
	if f.To, err = ParseTime(req.To, loc, true); err != nil {
		return badParam("to", "%v", err)
	}
	if !f.To.After(f.From) {
		return badParam("to", "%s is not after from", req.To)
	}
	if req.Rates == "" {
		return badParam("rates", "required: the rate plan's text, as in a rate file")
	}
	name := req.RatesName
	if name == "" {
		name = "rates from the API"
	}
	rates, err := billing.ParseRates([]byte(req.Rates), name)
	if err != nil {
		return badParam("rates", "%v", err)
	}
	cfg := s.o.Billing
	if cfg.Legs == "" {
		cfg = billing.DefaultConfig()
	}
	if len(req.Trunks) > 0 {
		cfg.Trunks = req.Trunks
	}
	if req.Legs != "" {
		cfg.Legs = req.Legs
	}
	if req.Attribution != "" {
		cfg.Attribution = req.Attribution
	}
	if req.DefaultAccount != "" {
		cfg.DefaultAccount = req.DefaultAccount
	}
	rater, err := billing.NewRater(rates, cfg)
	if err != nil {
		return badParam("billing", "%v", err)
	}
	run, err := s.o.Store.Rerate(r.Context(), f, store.RerateOptions{Rates: name, DryRun: req.DryRun}, rater.Rate)
	if err != nil {
		return err
	}
	out := rerateJSON{
		ID: run.ID, DryRun: req.DryRun, At: run.At, Rates: run.Rates, From: run.From, To: run.To,
		Selection: run.Selection, Calls: run.Calls, Changed: run.Changed, Totals: []rerateTotalJSON{},
	}
	for _, t := range run.Totals {
		out.Totals = append(out.Totals, rerateTotalJSON{
			Account: t.Account, Currency: t.Currency, Old: t.Old, New: t.New, Delta: t.Delta(),
			OldUnpriced: t.OldUnpriced, NewUnpriced: t.NewUnpriced,
		})
	}
	return writeJSON(w, http.StatusOK, out)
}
