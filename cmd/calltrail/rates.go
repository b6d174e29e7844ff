package main

import (
	"github.com/calltrail/calltrail/billing"
	"github.com/calltrail/calltrail/internal/config"
)

// loadRater builds the rater of the config's billing section, or nil when
// no rate file is configured (calls are then stored unpriced).
func loadRater(cfg *config.Config) (*billing.Rater, error) {
	if cfg.Billing.Rates == "" {
		return nil, nil
	}
	rates, err := billing.LoadRates(cfg.Billing.Rates)
	if err != nil {
		return nil, err
	}
	bc := billingConfig(cfg)
	return billing.NewRater(rates, bc)
}

// billingConfig is who pays, as cfg says, over billing's defaults.
func billingConfig(cfg *config.Config) billing.Config {
	bc := billing.DefaultConfig()
	if cfg.Billing.Legs != "" {
		bc.Legs = cfg.Billing.Legs
	}
	if len(cfg.Billing.Trunks) > 0 {
		bc.Trunks = cfg.Billing.Trunks
	}
	if cfg.Billing.Attribution != "" {
		bc.Attribution = cfg.Billing.Attribution
	}
	if cfg.Billing.DefaultAccount != "" {
		bc.DefaultAccount = cfg.Billing.DefaultAccount
	}
	return bc
}
