// Package forecast turns per-task predictions into a workflow's demand over time, finds
// where that demand contends with the pool's capacity, and forecasts arrivals and
// background load across workflows.
//
// # Demand
//
// Demand simulates as-soon-as-possible execution on unbounded capacity (the schedule whose
// makespan is the critical path; Kwok & Ahmad 1999 call its start times ASAP/"earliest
// start" times) twice: once on P50 runtimes and once on P90 runtimes. The result is a step
// function of cores and memory over time. The P90 band at a time is the larger of the two
// schedules' demands then, an envelope: capacity planned to it is not caught short whether
// tasks run to the median or late.
//
// # Time series
//
// Two models, chosen per series by rolling-origin backtest (Tashman 2000; Hyndman &
// Athanasopoulos, "Forecasting: Principles and Practice", 3rd ed., §5.10):
//
//   - Holt–Winters additive seasonality (Holt 1957; Winters 1960; the ETS(A,A,A) form of
//     Hyndman et al. 2008), smoothing parameters chosen by grid search on one-step squared
//     error, prediction intervals from the ETS(A,A,A) variance formula (fpp3 §8.7).
//   - A Prophet-style additive model (Taylor & Letham, "Forecasting at scale", 2018):
//     piecewise-linear trend with evenly spaced changepoints plus Fourier seasonality,
//     fitted by ridge-regularised least squares with gonum/mat (the ridge on changepoint
//     deltas stands in for Prophet's Laplace prior).
//
// A seasonal-naive model is provided as the baseline every forecaster must beat.
// PoolTargets turns a forecast of concurrent core demand into hot and warm pool targets.
package forecast
