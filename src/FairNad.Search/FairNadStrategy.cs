using System.Globalization;
using FairNad.Knowledge;

namespace FairNad.Search;

/// <summary>The mutation types of FairNAD.</summary>
public static class MutationTypes
{
    public const string Seed = "seed";
    public const string FairIdea = "fair-idea";
    public const string Pareto = "pareto";
    public const string Llm = "llm";

    public static readonly IReadOnlyList<string> All = [FairIdea, Pareto, Llm];
}

/// <summary>
/// How often each mutation type is drawn. <see cref="Effective"/> removes the disabled types and renormalises, so a run
/// with the LLM off redistributes the LLM's share over the others (the run manifest records both).
/// </summary>
public sealed record MutationMix(double FairIdea, double Pareto, double Llm)
{
    public IReadOnlyDictionary<string, double> Probabilities => new SortedDictionary<string, double>(StringComparer.Ordinal)
    {
        [MutationTypes.FairIdea] = FairIdea,
        [MutationTypes.Pareto] = Pareto,
        [MutationTypes.Llm] = Llm,
    };

    /// <exception cref="ArgumentException">nothing is left to draw.</exception>
    public MutationMix Effective(IReadOnlyCollection<string> disabled)
    {
        var kept = new MutationMix(
            disabled.Contains(MutationTypes.FairIdea) ? 0 : FairIdea,
            disabled.Contains(MutationTypes.Pareto) ? 0 : Pareto,
            disabled.Contains(MutationTypes.Llm) ? 0 : Llm);
        var total = kept.FairIdea + kept.Pareto + kept.Llm;
        return total > 0
            ? new MutationMix(kept.FairIdea / total, kept.Pareto / total, kept.Llm / total)
            : throw new ArgumentException($"every mutation type with a share is disabled ({string.Join(", ", disabled)})");
    }

    public string Draw(Random random)
    {
        var x = random.NextDouble() * (FairIdea + Pareto + Llm);
        return x < FairIdea ? MutationTypes.FairIdea : x < FairIdea + Pareto ? MutationTypes.Pareto : MutationTypes.Llm;
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"fair-idea {FairIdea:0.###}, pareto {Pareto:0.###}, llm {Llm:0.###}");
}

/// <summary>Settings of the FairNAD strategy.</summary>
/// <param name="Mix">Mutation-type probabilities, already effective (disabled types removed).</param>
/// <param name="Population">Parents are drawn from the most recent this many valid candidates (aging, as in REA).</param>
/// <param name="Tournament">Tournament size of parent selection for fair-idea and LLM mutations.</param>
/// <param name="Feedback">Whether feedback statistics steer attribute sampling and LLM prompts (off for the ablation).</param>
/// <param name="MaxAttempts">Mutations tried (not applicable, LLM gave up) before the strategy reports it has nothing to propose.</param>
/// <param name="Rules">
/// The version of the search rules (<see cref="CurrentRules"/> for new runs). A recorded run keeps the version it was
/// made with (its manifest names it; a manifest without one is version 1), so it resumes and reproduces the same proposals.
/// 1: a uniformly drawn front member, inapplicability counted as a failure, declared effects. 2: front members drawn by
/// hypervolume contribution, inapplicability counted apart and the attribute tried on further parents (also when the
/// child would be a candidate already evaluated), effects measured from the run's feedback once there is enough of it
/// (docs/search.md, "Pareto-aware mutation"). 3: rules 2, and each step's mutation type drawn with probability
/// proportional to its share of <see cref="Mix"/> times its Laplace-smoothed success rate in the run so far (credit
/// assignment; with <paramref name="Feedback"/> off the mix stays fixed). 4: rules 2, and each mutation type keeps its
/// own pool: fair-idea (and LLM) tournaments draw from the aging population of seeds and their children, which a
/// Pareto-aware child joins only when it is more accurate than the median of that population (it always counts for the
/// front, which Pareto-aware mutation draws from).
/// </param>
public sealed record FairNadOptions(MutationMix Mix, int Population, int Tournament = 3, bool Feedback = true, int MaxAttempts = 40, int Rules = FairNadOptions.CurrentRules)
{
    /// <summary>The search rules new runs use.</summary>
    public const int CurrentRules = 2;

    /// <summary>The versions this build can run.</summary>
    public static readonly IReadOnlyList<int> KnownRules = [1, 2, 3, 4];
}

/// <summary>
/// Under search rules 3, what a mutation type has earned so far and the probability it is drawn with now:
/// <paramref name="Prior"/> (its share of the effective mix) times (<paramref name="Successes"/> + 1) / (<paramref name="Trials"/> + 2),
/// normalised over the types. A trial is a told child of the type, new to the run, whose parent's first result is at the
/// child's rung; a success is a valid child more accurate than that result.
/// </summary>
public sealed record MutationCredit(string MutationType, double Prior, int Successes, int Trials, double Probability)
{
    /// <summary>The Laplace-smoothed success rate: (successes + 1) / (trials + 2), 1/2 before any trial.</summary>
    public double SmoothedRate => (Successes + 1.0) / (Trials + 2.0);
}

/// <summary>An attribute realised on a parent: the child and what changed.</summary>
public sealed record AppliedIdea<T>(T Candidate, string Summary);

/// <summary>
/// What FairNAD needs from a search space: the attribute tree of its design ideas, an initial population, and a way to
/// realise an attribute on a parent. The open architecture space and the NAS-Bench-201 cell space both provide one, so the
/// same strategy runs on real training and on a benchmark table.
/// </summary>
public interface IIdeaSpace<T>
{
    AttributeTree Tree { get; }

    string Key(T candidate);

    /// <summary>The seed population, with a line describing each.</summary>
    IReadOnlyList<(T Candidate, string Summary)> InitialPopulation(Random random);

    /// <summary>The child realising <paramref name="attribute"/> on <paramref name="parent"/>, or null when it does not apply.</summary>
    AppliedIdea<T>? Apply(T parent, AttributeNode attribute, Random random);

    /// <summary>
    /// Realisations a recorded candidate brings to the tree (an archived LLM-written operator it uses, as a realisation
    /// of the attribute it was written for); none by default.
    /// </summary>
    IReadOnlyList<(string AttributeId, Realisation Realisation)> Discovered(T candidate) => [];
}

/// <summary>An attempted mutation that produced no candidate, kept for the run's record.</summary>
public sealed record FailedMutation(string MutationType, string? Parent, string AttributeId, string Reason);

/// <summary>
/// The FairNAD strategy: a population of width-scaled reference architectures, then multi-type mutation. Each step draws a
/// mutation type: fair idea sampling (an attribute by <see cref="FairIdeaSampler"/>, a tournament parent, one of the
/// attribute's realisations), Pareto-aware mutation (a parent from the accuracy/cost front, an attribute whose effect
/// targets the objective the parent is weak in), or LLM-driven mutation (the LLM rewrites a parent for any attribute,
/// realised or not, with validation errors sent back for repair). Every outcome goes into the <see cref="FeedbackLedger"/>,
/// which weighs attribute sampling and is quoted in LLM prompts.
/// </summary>
public sealed class FairNadStrategy<T> : IAskTellStrategy<T>, IStrategyDiagnostics
{
    private readonly IIdeaSpace<T> _space;
    private readonly FairNadOptions _options;
    private readonly ILlmMutator<T>? _llm;
    private readonly Random _random;
    private readonly FairIdeaSampler _sampler;
    private readonly Queue<(T Candidate, string Summary)> _seeds;
    private readonly List<T> _seedList;
    private readonly List<(Proposal<T> Proposal, Outcome Outcome)> _valid = [];
    private readonly List<(Proposal<T> Proposal, Outcome Outcome)> _tournamentPool = [];
    private readonly Dictionary<string, (Proposal<T> Proposal, Outcome Outcome)> _byKey = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Outcome> _firstOutcome = new(StringComparer.Ordinal);
    private readonly List<FailedMutation> _failed = [];
    private readonly SortedDictionary<string, (int Successes, int Trials)> _credit = new(StringComparer.Ordinal);

    public FairNadStrategy(IIdeaSpace<T> space, FairNadOptions options, int seed, ILlmMutator<T>? llm = null, string name = "fairnad")
    {
        if (!FairNadOptions.KnownRules.Contains(options.Rules))
        {
            throw new ArgumentException($"search rules {options.Rules} are unknown to this build (known: {string.Join(", ", FairNadOptions.KnownRules)})");
        }

        if (options.Mix.Llm > 0 && llm is null)
        {
            throw new ArgumentException("the mix gives LLM-driven mutation a share but no LLM mutator was given; disable it so its share is redistributed");
        }

        _space = space;
        _options = options;
        _llm = llm;
        _random = new Random(seed);
        Tree = space.Tree;
        _sampler = new FairIdeaSampler(space.Tree, seed + 1);
        if (options.Feedback)
        {
            _sampler.ExtraLoad = Feedback.Penalty;
        }

        var population = space.InitialPopulation(_random);
        _seeds = new Queue<(T, string)>(population);
        _seedList = population.Select(p => p.Candidate).ToList();
        Name = name;
    }

    public string Name { get; }

    /// <summary>
    /// The attribute tree as the search uses it now: the space's tree, plus the realisations recorded candidates brought
    /// (<see cref="IIdeaSpace{T}.Discovered"/>), in the order the candidates were told. Resuming replays the same tells,
    /// so it grows the same way.
    /// </summary>
    public AttributeTree Tree { get; private set; }

    public FeedbackLedger Feedback { get; } = new();

    public IReadOnlyList<FailedMutation> FailedMutations => _failed;

    /// <summary>
    /// Rules 3: each mutation type's trials, successes and current draw probability (<see cref="FairNad.Search.MutationCredit"/>),
    /// in <see cref="MutationTypes.All"/> order; empty under rules 1 and 2, which draw from the fixed mix. Derived from
    /// tells only, so a resumed run (which replays them) has the same.
    /// </summary>
    public IReadOnlyList<MutationCredit> MutationCredit
    {
        get
        {
            if (_options.Rules != 3)
            {
                return [];
            }

            var prior = _options.Mix.Probabilities;
            var weights = MutationTypes.All.Select(CreditWeight).ToList();
            var total = weights.Sum();
            return MutationTypes.All.Select((type, i) =>
            {
                var (successes, trials) = _credit.GetValueOrDefault(type);
                return new MutationCredit(type, prior[type], successes, trials, total > 0 ? weights[i] / total : 0);
            }).ToList();
        }
    }

    public async ValueTask<Proposal<T>?> AskAsync(CancellationToken cancel = default)
    {
        if (_seeds.TryDequeue(out var seed))
        {
            return new Proposal<T>(seed.Candidate, _space.Key(seed.Candidate), [], MutationTypes.Seed, Summary: seed.Summary);
        }

        for (var attempt = 0; attempt < _options.MaxAttempts; attempt++)
        {
            var type = _options.Rules == 3 ? DrawCredited() : _options.Mix.Draw(_random);
            var proposal = type switch
            {
                MutationTypes.Pareto => ParetoAware(),
                MutationTypes.Llm => await LlmDriven(cancel).ConfigureAwait(false),
                _ => FairIdea(),
            };
            if (proposal is not null)
            {
                return proposal;
            }
        }

        return null;
    }

    public void Tell(Proposal<T> proposal, Outcome outcome)
    {
        if (_byKey.TryGetValue(proposal.Key, out var known) && outcome.Ok && outcome.Rung > known.Outcome.Rung)
        {
            // A promotion's result (a higher rung): it replaces the candidate's outcome where it stands (population order
            // and front membership are by the latest rung), and says nothing new about the mutation that made it.
            _byKey[proposal.Key] = (known.Proposal, outcome);
            var place = _valid.FindIndex(v => v.Proposal.Key == proposal.Key);
            if (place >= 0)
            {
                _valid[place] = (known.Proposal, outcome);
            }

            var pooled = _tournamentPool.FindIndex(v => v.Proposal.Key == proposal.Key);
            if (pooled >= 0)
            {
                _tournamentPool[pooled] = (known.Proposal, outcome);
            }

            return;
        }

        // A repeat (told again by deduplication) counts for feedback, but joins neither the population nor the front twice.
        if (_byKey.TryAdd(proposal.Key, (proposal, outcome)))
        {
            Discover(proposal.Candidate);
            _firstOutcome[proposal.Key] = outcome;
            if (outcome.Ok)
            {
                if (_options.Rules == 4 && (proposal.MutationType != MutationTypes.Pareto || BeatsPoolMedian(outcome)))
                {
                    _tournamentPool.Add((proposal, outcome));
                }

                _valid.Add((proposal, outcome));
            }

            if (_options.Rules == 3)
            {
                Credit(proposal, outcome);
            }
        }

        if (proposal.Attribute is null || proposal.Category is null)
        {
            return;
        }

        // Feedback compares child and parent at the same rung: the parent's first result is at the rung the child's is
        // (every candidate starts on the lowest rung), whatever rung the parent has been promoted to since.
        var parent = proposal.Parents.Count > 0 && _firstOutcome.TryGetValue(proposal.Parents[0], out var p) && p.Rung == outcome.Rung ? p : null;
        Feedback.Record(new MutationOutcome(proposal.Attribute, proposal.Category, outcome.Ok,
            outcome.Accuracy - parent?.Accuracy, outcome.Cost - parent?.Cost, outcome.Failure, outcome.Rung));
    }

    private static bool Realised(AttributeNode a) => a.Realisations.Count > 0;

    /// <summary>
    /// Rules 3: counts a new child of a mutation type as a trial of that type when its parent's first result is at the
    /// child's rung (as feedback compares them), and as a success when the child is valid and more accurate than that
    /// result. Seeds have no parent and promotions and repeats are not told here, so neither counts.
    /// </summary>
    private void Credit(Proposal<T> proposal, Outcome outcome)
    {
        if (!MutationTypes.All.Contains(proposal.MutationType) || proposal.Parents.Count == 0
            || !_firstOutcome.TryGetValue(proposal.Parents[0], out var parent) || parent.Rung != outcome.Rung)
        {
            return;
        }

        var (successes, trials) = _credit.GetValueOrDefault(proposal.MutationType);
        var improved = outcome.Ok && outcome.Accuracy is { } child && parent.Accuracy is { } before && child > before;
        _credit[proposal.MutationType] = (successes + (improved ? 1 : 0), trials + 1);
    }

    /// <summary>
    /// Rules 3: a type's unnormalised draw weight, its share of the mix times its Laplace-smoothed success rate (with
    /// feedback off, its share alone). A disabled type has share 0 and stays at 0.
    /// </summary>
    private double CreditWeight(string type)
    {
        var prior = _options.Mix.Probabilities[type];
        if (!_options.Feedback)
        {
            return prior;
        }

        var (successes, trials) = _credit.GetValueOrDefault(type);
        return prior * (successes + 1.0) / (trials + 2.0);
    }

    /// <summary>Rules 3: a mutation type drawn by <see cref="CreditWeight"/>, from one number of the strategy's generator; never a type of weight 0.</summary>
    private string DrawCredited()
    {
        var weights = MutationTypes.All.Select(CreditWeight).ToList();
        var x = _random.NextDouble() * weights.Sum();
        var last = -1;
        for (var i = 0; i < weights.Count; i++)
        {
            if (weights[i] <= 0)
            {
                continue;
            }

            last = i;
            x -= weights[i];
            if (x < 0)
            {
                return MutationTypes.All[i];
            }
        }

        return MutationTypes.All[last];
    }

    /// <summary>Adds what a newly recorded candidate brings to the tree, and lets the sampler see it.</summary>
    private void Discover(T candidate)
    {
        var tree = _space.Discovered(candidate).Aggregate(Tree, (t, d) => t.WithRealisation(d.AttributeId, d.Realisation));
        if (!ReferenceEquals(tree, Tree))
        {
            Tree = tree;
            _sampler.Use(tree);
        }
    }

    private Proposal<T>? FairIdea()
    {
        if (_options.Rules == 1)
        {
            var parent = TournamentParent();
            var (_, category, attribute) = _sampler.Next(require: Realised);
            return Realise(MutationTypes.FairIdea, parent, category, attribute, string.Empty);
        }

        var parents = TournamentParents();
        var (_, c, a) = _sampler.Next(require: Realised);
        return Realise(MutationTypes.FairIdea, parents, c, a, string.Empty);
    }

    private Proposal<T>? ParetoAware()
    {
        // The front of everything valid so far, not only the living population: a front member stays a parent until beaten.
        var valid = _valid;
        if (valid.Count == 0)
        {
            return FairIdea();
        }

        var points = valid.Select(v => new Objectives(v.Proposal.Key, v.Outcome.Accuracy!.Value, v.Outcome.Cost ?? 0, v.Outcome.Rung)).ToList();
        var front = ParetoFront.Front(points);
        if (_options.Rules == 1)
        {
            var member = front[_random.Next(front.Count)];
            var weak = ParetoFront.WeakObjective(member, front);
            Func<AttributeNode, bool> prefer = weak == "efficiency" ? a => a.Effect == "efficiency" : a => a.Effect != "efficiency";
            var (_, category, attribute) = _sampler.Next(prefer, Realised);
            return Realise(MutationTypes.Pareto, _byKey[member.Id].Proposal.Candidate, category, attribute, $" (front member weak in {weak})");
        }

        // Rules 2: a member drawn in proportion to its hypervolume contribution, so the front's flat or crowded stretches
        // (a cheap corner barely above the worst accuracy) are seldom parents; should the attribute not apply to it, the
        // other members follow by contribution.
        var contributions = ParetoFront.HypervolumeContributions(front);
        var chosen = DrawProportional(contributions);
        var drawn = front[chosen];
        var weakIn = ParetoFront.WeakObjective(drawn, front);
        var wantsEfficiency = weakIn == "efficiency";
        var (_, c, a) = _sampler.Next(x => (EffectOf(x) == "efficiency") == wantsEfficiency, Realised);
        var parents = new[] { chosen }.Concat(Enumerable.Range(0, front.Count).Where(i => i != chosen).OrderByDescending(i => contributions[i]))
            .Select(i => _byKey[front[i].Id].Proposal.Candidate).ToList();
        return Realise(MutationTypes.Pareto, parents, c, a, $" (front member weak in {weakIn})");
    }

    /// <summary>
    /// The effect that steers Pareto-aware choice: under rules 2 with feedback on, the one the run measured
    /// (<see cref="FeedbackLedger.MeasuredEffect"/>) once there is enough evidence; else the tree's declared tag.
    /// </summary>
    public string EffectOf(AttributeNode attribute) =>
        _options.Rules >= 2 && _options.Feedback && Feedback.MeasuredEffect(attribute.Id) is { } measured ? measured : attribute.Effect;

    /// <summary>An index drawn with probability proportional to its weight; uniform when every weight is 0.</summary>
    private int DrawProportional(IReadOnlyList<double> weights)
    {
        var total = weights.Sum();
        if (!(total > 0))
        {
            return _random.Next(weights.Count);
        }

        var x = _random.NextDouble() * total;
        for (var i = 0; i < weights.Count; i++)
        {
            x -= weights[i];
            if (x < 0)
            {
                return i;
            }
        }

        return weights.Count - 1;
    }

    private async Task<Proposal<T>?> LlmDriven(CancellationToken cancel)
    {
        var parent = TournamentParent();
        var (_, category, attribute) = _sampler.Next();
        var feedback = _options.Feedback ? Feedback.PromptSummary(attribute.Id, category.Id) : "feedback is disabled for this run\n";
        try
        {
            var result = await _llm!.MutateAsync(parent, attribute, category, feedback, cancel).ConfigureAwait(false);
            return new Proposal<T>(result.Candidate, _space.Key(result.Candidate), [_space.Key(parent)], MutationTypes.Llm, attribute.Id, category.Id, result.Transcript,
                $"{attribute.Name}: {result.Summary}");
        }
        catch (LlmMutationException e)
        {
            _failed.Add(new FailedMutation(MutationTypes.Llm, _space.Key(parent), attribute.Id, e.Message));
            if (!e.ServerFailure)
            {
                // A server that failed says nothing about the attribute, so fair sampling does not count it against it.
                Feedback.Record(new MutationOutcome(attribute.Id, category.Id, false, null, null, "llm-invalid"));
            }

            return null;
        }
    }

    /// <summary>
    /// Rules 2: the attribute realised on the first of <paramref name="parents"/> it applies to and gives a child not yet
    /// evaluated. Each parent it does not apply to is recorded as inapplicability (not a failure:
    /// <see cref="MutationOutcome.NotApplicable"/>); a child already evaluated tells nothing new and spends a draw (a long
    /// enough run of them ends the search), so the next parent is tried, and the first repeat is proposed only when every
    /// parent gives one. Only when the attribute applies to none is the mutation a failed one.
    /// </summary>
    private Proposal<T>? Realise(string type, IReadOnlyList<T> parents, CategoryNode category, AttributeNode attribute, string note)
    {
        Proposal<T>? repeat = null;
        foreach (var parent in parents)
        {
            if (_space.Apply(parent, attribute, _random) is { } child)
            {
                var proposal = new Proposal<T>(child.Candidate, _space.Key(child.Candidate), [_space.Key(parent)], type, attribute.Id, category.Id, null,
                    $"{attribute.Name}: {child.Summary}{note}");
                if (!_byKey.ContainsKey(proposal.Key))
                {
                    return proposal;
                }

                // A child already evaluated says nothing new: the next parent is tried, and the repeat proposed only when every parent gives one.
                repeat ??= proposal;
                continue;
            }

            Feedback.Record(new MutationOutcome(attribute.Id, category.Id, false, null, null, null, NotApplicable: true));
        }

        if (repeat is not null)
        {
            return repeat;
        }

        _failed.Add(new FailedMutation(type, parents.Count > 0 ? _space.Key(parents[0]) : null, attribute.Id,
            $"no realisation applies to any of the {parents.Count} parent(s) tried"));
        return null;
    }

    private Proposal<T>? Realise(string type, T parent, CategoryNode category, AttributeNode attribute, string note)
    {
        if (_space.Apply(parent, attribute, _random) is { } child)
        {
            return new Proposal<T>(child.Candidate, _space.Key(child.Candidate), [_space.Key(parent)], type, attribute.Id, category.Id, null,
                $"{attribute.Name}: {child.Summary}{note}");
        }

        _failed.Add(new FailedMutation(type, _space.Key(parent), attribute.Id, "no realisation applies to this parent"));
        Feedback.Record(new MutationOutcome(attribute.Id, category.Id, false, null, null, "not-applicable"));
        return null;
    }

    /// <summary>
    /// The most recent <see cref="FairNadOptions.Population"/> valid candidates; under rules 4, the most recent of the
    /// tournament pool (seeds and their fair-idea and LLM children, and the Pareto-aware children that beat its median).
    /// </summary>
    private List<(Proposal<T> Proposal, Outcome Outcome)> Alive()
    {
        var pool = _options.Rules == 4 ? _tournamentPool : _valid;
        return pool.GetRange(Math.Max(0, pool.Count - _options.Population), Math.Min(_options.Population, pool.Count));
    }

    /// <summary>
    /// Rules 4: whether a Pareto-aware child may join the tournament pool, i.e. its result ranks above the median of the
    /// living pool (an empty pool takes it). A child of a cheap front member trades accuracy for cost, which the front
    /// keeps; in the accuracy tournament it would only displace a better parent by its recency.
    /// </summary>
    private bool BeatsPoolMedian(Outcome outcome)
    {
        var alive = Alive();
        if (alive.Count == 0)
        {
            return true;
        }

        var ranked = alive.Select(m => m.Outcome.Accuracy ?? double.NegativeInfinity).OrderBy(a => a).ToList();
        var median = ranked.Count % 2 == 1 ? ranked[ranked.Count / 2] : (ranked[(ranked.Count / 2) - 1] + ranked[ranked.Count / 2]) / 2;
        return outcome.Accuracy is { } accuracy && accuracy > median;
    }

    /// <summary>
    /// Rules 2: the parents a fair-idea mutation tries in turn: a random tournament's contestants best first (its winner is
    /// the parent rules 1 takes), then the rest of the living population best first; before any candidate is valid, the
    /// seed architectures, a random one first.
    /// </summary>
    private List<T> TournamentParents()
    {
        var alive = Alive();
        if (alive.Count == 0)
        {
            var first = _random.Next(_seedList.Count);
            return [_seedList[first], .. _seedList.Where((_, i) => i != first)];
        }

        var contestants = Enumerable.Range(0, _options.Tournament).Select(_ => alive[_random.Next(alive.Count)]).ToList();
        return contestants.OrderByDescending(m => Outcome.RankKey(m.Outcome))
            .Concat(alive.OrderByDescending(m => Outcome.RankKey(m.Outcome)))
            .Select(m => m.Proposal).DistinctBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Candidate).ToList();
    }

    /// <summary>Best of a random tournament among the living; before any candidate is valid, a seed architecture.</summary>
    private T TournamentParent()
    {
        var alive = Alive();
        if (alive.Count == 0)
        {
            return _seedList[_random.Next(_seedList.Count)];
        }

        return Enumerable.Range(0, _options.Tournament).Select(_ => alive[_random.Next(alive.Count)])
            .OrderByDescending(m => Outcome.RankKey(m.Outcome)).First().Proposal.Candidate;
    }
}
