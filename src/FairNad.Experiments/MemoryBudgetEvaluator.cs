using FairNad.Architecture;
using FairNad.Evaluation.Training;

namespace FairNad.Experiments;

/// <summary>
/// Middleware that decides memory before training: a candidate whose predicted peak (<see cref="MemoryModel"/>) exceeds the
/// budget is recorded as <see cref="FailureCategories.MemoryBudget"/> without being trained. The decision depends on the
/// spec, the training config and the dataset only, so it is the same on every machine; the worker's resident-memory cap
/// (twice the budget) stays as a safety net, and hitting it is a failure of the infrastructure, not of the candidate.
/// Applies to CPU training; GPU memory is not predicted. LLM-written operators count with their measured parameters from
/// the run's table in <paramref name="operatorsDirectory"/> (measured when the mutation that wrote them verified the candidate).
/// </summary>
public sealed class MemoryBudgetEvaluator(ICandidateEvaluator inner, string dataset, TrainingConfig config, long budgetBytes, long datasetPixelBytes, string? operatorsDirectory = null)
    : ICandidateEvaluator
{
    public string Description => $"{inner.Description}; memory budget {MemoryModel.Format(budgetBytes)} (predicted before training{(config.Device == "cpu" ? string.Empty : ", CPU only: not applied on " + config.Device)})";

    public int Parallelism => inner.Parallelism;

    public Task<EvaluationResult> EvaluateAsync(ArchitectureSpec spec, CancellationToken cancel = default)
    {
        if (config.Device == "cpu")
        {
            MemoryPrediction? prediction = null;
            try
            {
                prediction = MemoryModel.Predict(spec, config, datasetPixelBytes, Costs(spec));
            }
            catch (FairNad.Architecture.Models.InvalidArchitectureException)
            {
                // Not a valid spec: the trainer reports it as invalid-spec.
            }
            catch (OverflowException)
            {
                return Task.FromResult(Reject(spec, "its predicted peak memory does not fit in 64 bits"));
            }

            if (prediction is { } p && p.Total > budgetBytes)
            {
                return Task.FromResult(Reject(spec, $"predicted peak memory {p} exceeds the budget of {MemoryModel.Format(budgetBytes)} (evaluation.memoryMb) at batch {config.BatchSize}"));
            }
        }

        return inner.EvaluateAsync(spec, cancel);
    }

    public void Dispose() => inner.Dispose();

    private OperatorCostTable? Costs(ArchitectureSpec spec) =>
        operatorsDirectory is not null && OperatorSources.References(spec).Count > 0 ? OperatorCostTable.Load(operatorsDirectory) : null;

    private EvaluationResult Reject(ArchitectureSpec spec, string why) =>
        EvaluationResult.Failure(spec.Id, dataset, config, FailureCategories.MemoryBudget, why) with { Parameters = ArchitectureAnalyzer.Analyze(spec, Costs(spec)).Parameters };
}
