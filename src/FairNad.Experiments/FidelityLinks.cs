using FairNad.Search;

namespace FairNad.Experiments;

/// <summary>
/// Multi-fidelity evaluation as a link of the chain: before a new candidate is asked for, the scheduler
/// (<see cref="SuccessiveHalving"/>) is consulted, and a promotion it returns becomes a trial of that candidate at the next
/// rung. Every result is reported to the scheduler when it is told, in batch order, so promotions depend only on the
/// recorded results and their order: a resumed run, replaying its journal, promotes the same candidates at the same
/// places. Promotions go on after the candidate budget is spent, until no candidate qualifies; none starts after the
/// time budget is spent.
/// </summary>
public sealed class SuccessiveHalvingLink(SuccessiveHalving scheduler, BudgetLimit budget) : SearchLink
{
    private readonly Dictionary<string, Trial> _first = new(StringComparer.Ordinal);

    /// <summary>Promotions made so far.</summary>
    public int Promotions { get; private set; }

    public override async ValueTask<Trial?> AskAsync(CancellationToken cancel)
    {
        if (!budget.TimeUp && scheduler.NextPromotion() is { } promotion)
        {
            Promotions++;
            var first = _first[promotion.Key];
            return new Trial(first.Index, first.Proposal) { Rung = promotion.Rung };
        }

        var trial = await Next.AskAsync(cancel).ConfigureAwait(false);
        if (trial is { Scheduled: false })
        {
            _first.TryAdd(trial.Key, trial);
        }

        return trial;
    }

    public override void Tell(Trial trial)
    {
        Next.Tell(trial);
        if (trial.NoiseSeed == 0)
        {
            scheduler.Report(trial.Key, trial.Rung, trial.Record!.Ok ? trial.Record.Validation : null);
        }
    }
}

/// <summary>
/// Measures the seed-to-seed noise of each rung: once the first <see cref="NoiseOptions.Architectures"/> candidates (the
/// seed architectures) have been asked for, each is queued for <see cref="NoiseOptions.Seeds"/> extra training seeds at
/// every rung, ahead of new candidates. As their results are told, the pooled spread of each rung (extra seeds together
/// with the architecture's own result at that rung, when it has one) is computed and handed to the feedback ledger as
/// the rung's improvement threshold (<see cref="SeedNoise.Threshold"/>). Results are taken in the order they are told,
/// so the thresholds, and the feedback that depends on them, replay identically.
/// </summary>
public sealed class NoiseMeasurementLink(NoiseOptions options, int rungs, FeedbackLedger? ledger, BudgetLimit budget) : SearchLink
{
    private readonly List<Trial> _architectures = [];
    private readonly Queue<Trial> _queued = new();
    private readonly SortedDictionary<int, SortedDictionary<int, List<double>>> _samples = [];

    /// <summary>The spread measured at each rung so far (pooled standard deviation, percentage points).</summary>
    public IReadOnlyDictionary<int, double> Spread => _spread;

    private readonly SortedDictionary<int, double> _spread = [];

    public override async ValueTask<Trial?> AskAsync(CancellationToken cancel)
    {
        if (!budget.TimeUp && _queued.TryDequeue(out var queued))
        {
            return queued;
        }

        var trial = await Next.AskAsync(cancel).ConfigureAwait(false);
        if (trial is { Scheduled: false } && _architectures.Count < options.Architectures)
        {
            _architectures.Add(trial);
            if (_architectures.Count == options.Architectures)
            {
                for (var rung = 0; rung < rungs; rung++)
                {
                    foreach (var architecture in _architectures)
                    {
                        for (var seed = 1; seed <= options.Seeds; seed++)
                        {
                            _queued.Enqueue(new Trial(architecture.Index, architecture.Proposal) { Rung = rung, NoiseSeed = seed });
                        }
                    }
                }
            }
        }

        return trial;
    }

    public override void Tell(Trial trial)
    {
        Next.Tell(trial);
        var place = _architectures.FindIndex(a => a.Key == trial.Key);
        if (place < 0 || trial.Record is not { Ok: true } record)
        {
            return;
        }

        if (!_samples.TryGetValue(trial.Rung, out var byArchitecture))
        {
            _samples[trial.Rung] = byArchitecture = [];
        }

        if (!byArchitecture.TryGetValue(place, out var values))
        {
            byArchitecture[place] = values = [];
        }

        values.Add(record.Validation!.Value);
        if (SeedNoise.PooledSpread(byArchitecture.Values) is { } spread)
        {
            _spread[trial.Rung] = spread;
            ledger?.SetNoise(trial.Rung, SeedNoise.Threshold(spread));
        }
    }
}
