using FairNad.Architecture;
using FairNad.Evaluation.Training;

namespace FairNad.Experiments;

/// <summary>
/// The machine failed, not the candidate: a timeout, the memory safety cap, a kill from outside or an unusable worker
/// kept failing after every retry. The run stops here, records nothing for the candidate, and can be resumed.
/// </summary>
public sealed class InfrastructureFailureException(string message) : Exception(message);

/// <summary>
/// Middleware around an evaluator that keeps machine load out of the results. A failure of the infrastructure
/// (<see cref="FailureCategory.IsInfrastructure"/>) is retried up to <paramref name="retries"/> times, unless it would repeat
/// (<see cref="FailureCategory.IsRetried"/> false: the CPU-time limit), and, if it persists, stops the run with
/// <see cref="InfrastructureFailureException"/> naming the candidate: it is never handed on as the candidate's result,
/// so it never reaches the strategy, the journal or the lineage. A crash (a fault of the worker itself) is retried too and
/// becomes the candidate's recorded outcome only when every attempt crashed.
/// </summary>
public sealed class RetryingEvaluator(ICandidateEvaluator inner, int retries, Action<string> log) : ICandidateEvaluator
{
    public string Description => $"{inner.Description}; infrastructure failures retried {retries} time(s), then the run stops";

    public int Parallelism => inner.Parallelism;

    public async Task<EvaluationResult> EvaluateAsync(ArchitectureSpec spec, CancellationToken cancel = default)
    {
        var failures = new List<EvaluationResult>();
        while (true)
        {
            EvaluationResult result;
            try
            {
                result = await inner.EvaluateAsync(spec, cancel).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                result = EvaluationResult.Failure(spec.Id, string.Empty, TrainingConfig.Full, FailureCategories.EvaluatorError, $"{e.GetType().Name}: {e.Message}");
            }

            cancel.ThrowIfCancellationRequested();
            var category = FailureCategory.Of(result.FailureCategory);
            if (category is null || category.Blame == FailureBlame.Candidate)
            {
                return result;
            }

            failures.Add(result);
            var attempt = failures.Count;
            if (category.IsRetried && attempt <= retries)
            {
                log($"candidate {spec.Id[..12]}: {result.FailureCategory} ({result.FailureMessage}); attempt {attempt} of {retries + 1} failed, trying again");
                continue;
            }

            if (failures.All(f => FailureCategory.Of(f.FailureCategory)?.Blame == FailureBlame.Worker))
            {
                return result with { FailureMessage = $"{result.FailureMessage} (the same on all {attempt} attempts)" };
            }

            throw new InfrastructureFailureException(
                $"candidate {spec.Id} could not be evaluated: {attempt} attempt(s) failed for reasons of the machine, not of the candidate: " +
                string.Join("; ", failures.Select((f, i) => $"#{i + 1} {f.FailureCategory}: {f.FailureMessage}")) +
                (category.IsRetried ? string.Empty : $" (not retried: {category.Name} would repeat on this machine)") +
                ". Nothing was recorded for it. Free the machine, or give the candidate more CPU time with --timeout (a resume accepts it; on Slurm, also executor.timeMinutes and executor.memoryMb), then continue with --resume.");
        }
    }

    public void Dispose() => inner.Dispose();
}
