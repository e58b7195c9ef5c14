// Package model predicts a task's runtime, peak memory and CPU from the history of tasks
// with the same signature, and sharpens those predictions inside a running workflow from
// its finished siblings.
//
// # Model
//
// Each key (a task signature; the category within a family; the family; everything) keeps a
// bounded sliding window of observations in log space. A prediction uses the most specific
// key that has data:
//
//   - When the key's input sizes vary enough, runtime is a robust log-log regression on
//     input bytes: the Theil–Sen estimator (Theil 1950; Sen 1968), the median of pairwise
//     slopes, with the intercept the median of the partial residuals. It tolerates up to
//     ~29% outliers, which matters because task runtimes have heavy right tails (stragglers,
//     retries on a slow node). Otherwise runtime is a robust location: the median of log
//     runtime. Medians of a signature or category are recency-weighted by run (half-life
//     Config.HalfLifeRuns finished runs of the family, counted by Run.Finish) so history
//     follows a new software version in a few runs, not half a window. Age is counted
//     in runs, never in observations: within a run, finish order is runtime order.
//   - P90 and P99 are the fitted value plus empirical quantiles of the residuals, widened
//     for small samples by blending with a prior log-spread (a conjugate-style shrinkage,
//     weight n/(n+k)). This is the "per-category quantiles" approach of Pegasus/WfCommons
//     task-characterisation studies (Ferreira da Silva et al., "Toward fine-grained online
//     task characteristics estimation in scientific workflows", WORKS 2013) rather than a
//     Gaussian assumption.
//   - Beyond the input sizes a key has seen, runtime follows a prior elasticity (0.5 in
//     log-log, between constant and linear work) with P90/P99 widened per log unit of
//     extrapolation; a thousandfold jump is taken for a change in what was counted as
//     input and ignored.
//   - Peak memory is modelled as a robust location and residual quantiles on log bytes;
//     CPU is the median of used cores (CPU seconds / wall seconds).
//   - A sparsely observed signature is shrunk toward its category within the family
//     (empirical Bayes); never toward the whole family, whose tasks differ by orders of
//     magnitude.
//
// Updates are online: Observe appends to a ring buffer and invalidates a cached fit, so no
// batch retraining is ever needed and memory per key is bounded by Config.Window.
//
// Cold start falls back signature → category within family → user estimate → family →
// global prior, and Prediction.Source says which one answered (history, siblings, user,
// family-prior, global-prior; run-prior when a run's tasks of other kinds answered, see
// Run.Predict).
//
// # Siblings
//
// A Run overlays one workflow execution on the shared model. Tasks of one run share a
// machine type, a data set and a load level, so their residuals against history are
// correlated: the run's median residual for a signature (shrunk by count, s/(s+k)) shifts
// that signature's prediction. With no history at all the siblings themselves are fitted.
// This is the online re-estimation used by Ferreira da Silva et al. (2013) and, in spirit,
// by Dask's per-prefix duration averages, but robust.
//
// Siblings are censored data: those that finish first are the short ones. When the shell
// reports dispatches without times (Run.Started), k finished of d started are treated as
// the k smallest of d (order statistics). With times (StartedAt, ObserveAt, PredictAt)
// each sibling still running is a right-censored residual, known only to exceed its
// elapsed time, and the run's quantiles come from the Kaplan–Meier estimate (Kaplan &
// Meier 1958): a wave dispatched a moment ago does not turn the finished wave before it
// into the short tail of a slower whole. On the traces this took the dispatch-time
// median APE on families with history from 0.225 to 0.212 (foresight bench, seed 1).
// Run.Finish reports the run's offset per signature back to the
// model, which pools them per family into a between-run spread (a random-effects view:
// within-run and between-run deviations add in quadrature) that widens P90 and P99 where
// runs drift and that siblings shrink as they reveal the run's offset.
//
// # Calibration
//
// The bands above are a model's opinion of its own error; on real traces they were too
// narrow (79% of actuals under P90 at dispatch). P90 and P99 are therefore calibrated
// online by conformal prediction (split conformal, Angelopoulos & Bates, "A Gentle
// Introduction to Conformal Prediction and Distribution-Free Uncertainty
// Quantification", 2021; on a sliding window of recent scores, the online setting of
// Gibbs & Candès, "Adaptive Conformal Inference Under Distribution Shift", NeurIPS 2021).
// Each finished task is scored against the prediction made for it before it was
// observed (Model.Observe lets that prediction's fit lag by up to an eighth of the
// window, as a prediction made at submission would, so that scoring does not refit every
// key on every observation), with the locally weighted score of Lei et al. ("Distribution-Free Predictive
// Inference for Regression", JASA 2018): its log distance above the median divided by
// the raw band's log width, one score for P90 and one for P99. The reported band is the
// raw band times the ceil((n+1)p)-th smallest of the n recent scores, which widens a
// band that under-covers and narrows one that over-covers; P50 never moves. Normalising
// by the band lets one pool hold a cold guess and a well-observed signature alike.
//
// Scores of successive tasks are not exchangeable (a new run sits apart from history; a
// run's first finishers are its short tasks), so the level itself adapts as in Gibbs &
// Candès: each stream (channel and family) moves its level by γ(err − α) after every
// task, err being whether the calibrated bound was missed (Config.ACIStep, their γ =
// 0.005), within [0.5, 1]. Its long-run miss rate then tracks α whatever the scores do.
//
// Scores are kept in bounded windows (Config.CalibrationWindow) per channel — Model.Observe
// scores Model.Predict (submission), Run.Observe scores Run.Predict (dispatch, with
// siblings) — and per pool, most specific first: the prediction's source within the
// family, that source everywhere, the family, everything; the first pool with enough
// scores (9 for P90, 99 for P99; P99 takes P90's scale until then) answers. A run's own
// scores and level adjustment count at once in its predictions and join the model's at
// Run.Finish; until a finished run has fed the dispatch pools, dispatch predictions
// borrow the submission pools and level. The windows are persisted with the model; state saved before
// calibration existed loads uncalibrated and calibrates as tasks finish.
//
// # How the shell calls it
//
//	m := model.New(model.DefaultConfig())       // or json.Unmarshal persisted state
//	m.Observe(o)                                  // every task-observed, any workflow
//	run := m.NewRun()                             // per running workflow
//	run.StartedAt(q, t)                           // at dispatch
//	p := run.PredictAt(q, t)                      // when planning or re-planning a task
//	run.ObserveAt(o, t)                           // when a task of this run finishes
//	run.Finish()                                  // when the workflow completes
package model
