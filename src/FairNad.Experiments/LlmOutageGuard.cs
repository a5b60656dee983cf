using FairNad.Architecture;
using FairNad.Knowledge;
using FairNad.Search;

namespace FairNad.Experiments;

/// <summary>
/// Between the strategy and the LLM mutator: a mutation whose LLM server failed after the session's retries (Ollama down,
/// erroring, slower than the timeout) is a failed mutation and the run goes on; <see cref="ConsecutiveFailuresToStop"/>
/// such failures in a row mean the server stays down, and the run stops with <see cref="InfrastructureFailureException"/>,
/// as for a machine that fails: resumable, nothing recorded for the mutation in flight. Any answer from the server,
/// valid or not, resets the count. A failure that becomes a failed mutation is recorded in the transcripts
/// (<paramref name="recordFailure"/>), so the run replays offline to the same result; the one that stops the run is not,
/// and is asked again on resume.
/// </summary>
public sealed class LlmOutageGuard(ILlmMutator<ArchitectureSpec> inner, Action<string> log, Action? recordFailure = null) : ILlmMutator<ArchitectureSpec>
{
    /// <summary>Three calls, each already retried with backoff: minutes of a server that does not answer.</summary>
    public const int ConsecutiveFailuresToStop = 3;

    private int _inARow;

    public async Task<LlmMutationResult<ArchitectureSpec>> MutateAsync(ArchitectureSpec parent, AttributeNode attribute, CategoryNode category, string feedback, CancellationToken cancel = default)
    {
        try
        {
            var result = await inner.MutateAsync(parent, attribute, category, feedback, cancel).ConfigureAwait(false);
            _inARow = 0;
            return result;
        }
        catch (LlmMutationException e) when (e.ServerFailure)
        {
            _inARow++;
            var cause = e.InnerException?.Message ?? e.Message;
            if (_inARow >= ConsecutiveFailuresToStop)
            {
                throw new InfrastructureFailureException(
                    $"the LLM server failed {_inARow} calls in a row, each after its retries; the last: {cause}");
            }

            recordFailure?.Invoke();
            log($"LLM mutation failed ({_inARow} of {ConsecutiveFailuresToStop} failures in a row stop the run): {cause}");
            throw;
        }
        catch (LlmMutationException)
        {
            _inARow = 0;
            throw;
        }
    }
}
