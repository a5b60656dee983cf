using FairNad.Architecture;
using FairNad.Knowledge;

namespace FairNad.Search.Tests;

public sealed class FairNadStrategyTests
{
    private static readonly InputSpec Fashion = new(1, 28, 10);

    private static ArchitectureSpace Space() =>
        new(AttributeTree.Default(), ArchitectureSpace.ScaledReferences(["resnet", "mobilenetv2", "convnext"], Fashion, 20_000), 20_000);

    /// <summary>Accuracy grows with parameters (a stand-in table), so the front and the feedback have something to say.</summary>
    private static Outcome Score(ArchitectureSpec spec)
    {
        var analysis = ArchitectureAnalyzer.Analyze(spec);
        return new Outcome(40 + (20.0 * analysis.Parameters / 20_000) + (Convert.ToInt32(spec.Id[..2], 16) / 64.0), analysis.Parameters);
    }

    private sealed class ByScore : IEvaluator<ArchitectureSpec>
    {
        public Outcome Evaluate(ArchitectureSpec candidate) => Score(candidate);
    }

    private static IReadOnlyList<Trial<ArchitectureSpec>> Run(FairNadStrategy<ArchitectureSpec> strategy, int budget) =>
        StrategyDriver.Run(new Deduplicating<ArchitectureSpec>(strategy), new ByScore(), budget);

    [Fact]
    public void Run_FirstTheSeedsThenMutationsWithinBudget()
    {
        var space = Space();
        var trials = Run(new FairNadStrategy<ArchitectureSpec>(space, new FairNadOptions(new MutationMix(0.5, 0.5, 0), 3), seed: 1), 20);

        Assert.Equal(space.Seeds.Select(s => s.Id), trials.Take(3).Select(t => t.Key));
        Assert.All(trials.Take(3), t => Assert.Equal(MutationTypes.Seed, t.Proposal.MutationType));
        Assert.All(trials.Skip(3), t =>
        {
            Assert.Contains(t.Proposal.MutationType, new[] { MutationTypes.FairIdea, MutationTypes.Pareto });
            Assert.NotNull(AttributeTree.Default().Find(t.Proposal.Attribute!));
            Assert.Single(t.Proposal.Parents);
            Assert.True(ArchitectureAnalyzer.Analyze(t.Candidate).Parameters <= 20_000);
        });
        Assert.Equal(20, trials.Select(t => t.Key).Distinct().Count());
    }

    [Fact]
    public void Run_SameSeed_SameProposals()
    {
        var a = Run(new FairNadStrategy<ArchitectureSpec>(Space(), new FairNadOptions(new MutationMix(0.5, 0.5, 0), 3), seed: 4), 15);
        var b = Run(new FairNadStrategy<ArchitectureSpec>(Space(), new FairNadOptions(new MutationMix(0.5, 0.5, 0), 3), seed: 4), 15);

        Assert.Equal(a.Select(t => (t.Key, t.Proposal.MutationType, t.Proposal.Attribute)), b.Select(t => (t.Key, t.Proposal.MutationType, t.Proposal.Attribute)));
    }

    [Fact]
    public void Run_ParetoMutation_ParentIsOnTheFrontOfWhatCameBefore()
    {
        var trials = Run(new FairNadStrategy<ArchitectureSpec>(Space(), new FairNadOptions(new MutationMix(0, 1, 0), 3), seed: 2), 15);

        foreach (var trial in trials.Skip(3))
        {
            var before = trials.Take(trial.Index).Select(t => new Objectives(t.Key, t.Outcome.Accuracy!.Value, t.Outcome.Cost!.Value));
            Assert.Contains(trial.Proposal.Parents[0], ParetoFront.Front(before).Select(p => p.Id));
            Assert.Contains("front member weak in", trial.Proposal.Summary, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Tell_MutatedChild_FeedbackHasDeltasAgainstParent()
    {
        var strategy = new FairNadStrategy<ArchitectureSpec>(Space(), new FairNadOptions(new MutationMix(1, 0, 0), 3), seed: 3);
        var trials = Run(strategy, 10);

        var outcomes = strategy.Feedback.Outcomes.Where(o => o.Valid).ToList();
        Assert.Equal(7, outcomes.Count);
        var first = trials[3];
        var parent = trials.Single(t => t.Key == first.Proposal.Parents[0]);
        Assert.Equal(first.Outcome.Accuracy - parent.Outcome.Accuracy, outcomes[0].AccuracyDelta);
        Assert.Equal(first.Proposal.Attribute, outcomes[0].AttributeId);
    }

    [Fact]
    public void Constructor_LlmShareWithoutMutator_RefusedWithAdvice()
    {
        var e = Assert.Throws<ArgumentException>(() => new FairNadStrategy<ArchitectureSpec>(Space(), new FairNadOptions(new MutationMix(0.5, 0, 0.5), 3), seed: 0));

        Assert.Contains("redistributed", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Effective_DisabledType_ShareRedistributedProportionally()
    {
        var mix = new MutationMix(0.2, 0.2, 0.6).Effective([MutationTypes.Llm]);

        Assert.Equal((0.5, 0.5, 0.0), (mix.FairIdea, mix.Pareto, mix.Llm));
        Assert.Throws<ArgumentException>(() => new MutationMix(0, 0, 1).Effective([MutationTypes.Llm]));
    }

    /// <summary>Stands in for the LLM: records each attribute it is asked to realise and answers with a seeded realised change of the parent.</summary>
    private sealed class RecordingMutator(ArchitectureSpace space) : ILlmMutator<ArchitectureSpec>
    {
        private readonly Random _random = new(7);

        public List<AttributeNode> Asked { get; } = [];

        public Task<LlmMutationResult<ArchitectureSpec>> MutateAsync(ArchitectureSpec parent, AttributeNode attribute, CategoryNode category, string feedback, CancellationToken cancel = default)
        {
            Asked.Add(attribute);
            return Task.FromResult(new LlmMutationResult<ArchitectureSpec>(space.Mutate(parent, _random), "transcript", "changed", 1));
        }
    }

    [Fact]
    public void Run_TreeWithUnrealisedAttributes_LlmMutationDrawsThemAndRuleBasedOnesNever()
    {
        // An extracted tree: only the activation attributes keep realisations; the rest are LLM-only.
        var curated = AttributeTree.Default();
        var tree = curated with
        {
            Granularities = curated.Granularities.Select(g => g with
            {
                Categories = g.Categories.Select(c => c.Id == "operator.activation" ? c : c with { Attributes = c.Attributes.Select(a => a with { Realisations = [] }).ToList() }).ToList(),
            }).ToList(),
        };
        var space = new ArchitectureSpace(tree, ArchitectureSpace.ScaledReferences(["resnet", "mobilenetv2", "convnext"], Fashion, 20_000), 20_000);
        var llm = new RecordingMutator(space);

        var trials = Run(new FairNadStrategy<ArchitectureSpec>(space, new FairNadOptions(new MutationMix(0.5, 0, 0.5), 3), seed: 3, llm), 30);

        Assert.Contains(llm.Asked, a => a.Realisations.Count == 0);
        var ruleBased = trials.Where(t => t.Proposal.MutationType == MutationTypes.FairIdea).ToList();
        Assert.NotEmpty(ruleBased);
        Assert.All(ruleBased, t => Assert.NotEmpty(tree.Find(t.Proposal.Attribute!)!.Realisations));
    }

    /// <summary>Proposes a fixed sequence of keys; records what it is told.</summary>
    private sealed class Scripted(params string[] keys) : IAskTellStrategy<string>
    {
        private int _next;

        public List<(string Key, Outcome Outcome)> Told { get; } = [];

        public string Name => "scripted";

        public ValueTask<Proposal<string>?> AskAsync(CancellationToken cancel = default) =>
            ValueTask.FromResult(_next < keys.Length ? new Proposal<string>(keys[_next], keys[_next++], [], "test") : null);

        public void Tell(Proposal<string> proposal, Outcome outcome) => Told.Add((proposal.Key, outcome));
    }

    [Fact]
    public async Task Deduplicating_RepeatedKeys_NotProposedButToldTheRecordedOutcome()
    {
        var inner = new Scripted("a", "b", "a", "c", "b");
        var strategy = new Deduplicating<string>(inner);

        var a = (await strategy.AskAsync())!;
        var b = (await strategy.AskAsync())!;
        strategy.Tell(a, new Outcome(1));
        var c = (await strategy.AskAsync())!;
        strategy.Tell(b, new Outcome(2));
        strategy.Tell(c, new Outcome(3));

        Assert.Equal(("a", "b", "c"), (a.Key, b.Key, c.Key));
        Assert.Null(await strategy.AskAsync());
        Assert.Equal(2, strategy.Duplicates);
        Assert.Equal(["a", "a", "b", "b", "c"], inner.Told.Select(t => t.Key).Order());
        Assert.All(inner.Told.Where(t => t.Key == "b"), t => Assert.Equal(2, t.Outcome.Accuracy));
    }

    /// <summary>NAS-Bench-201 cells with a fixed seed population, where one idea applies to one cell only (a rare idea).</summary>
    private sealed class FixedCells(string rare, string onlyFor, params string[] seeds) : IIdeaSpace<string>
    {
        private readonly Nb201IdeaSpace _cells = new(seeds.Length);

        public AttributeTree Tree => Nb201IdeaSpace.IdeaTree;

        public string Key(string candidate) => candidate;

        public IReadOnlyList<(string Candidate, string Summary)> InitialPopulation(Random random) => seeds.Select(s => (s, "fixed")).ToList();

        public AppliedIdea<string>? Apply(string parent, AttributeNode attribute, Random random) =>
            attribute.Id == rare && parent != onlyFor ? null : _cells.Apply(parent, attribute, random);
    }

    private static string Cell(params string[] edges) => Nb201.FormatEdges(edges);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Run_IdeaApplyingToOneCell_Rules2TriesOtherParentsAndCountsInapplicabilityApart(int rules)
    {
        const string conv = "nor_conv_3x3";
        const string attribute = "operator.feature-extraction.conv-3x3";
        var only = Cell(conv, "none", conv, "avg_pool_3x3", conv, "skip_connect");
        var space = new FixedCells(attribute, only, Cell(conv, conv, conv, conv, conv, conv), Cell("none", conv, conv, conv, conv, "none"), only);
        var strategy = new FairNadStrategy<string>(space, new FairNadOptions(new MutationMix(1, 0, 0), 10, Tournament: 2, Rules: rules), seed: 3);

        var trials = StrategyDriver.Run(new Deduplicating<string>(strategy), Nb201Tables.Load("cifar100"), 25);

        var stats = strategy.Feedback.For(attribute)!;
        if (rules == 1)
        {
            Assert.True(stats.Failures.GetValueOrDefault("not-applicable") > 0, "rules 1 count inapplicability as a failure");
            Assert.Equal(0, stats.NotApplicable);
        }
        else
        {
            Assert.False(stats.Failures.ContainsKey("not-applicable"));
            Assert.True(stats.NotApplicable > 0, "the idea applies to one cell only");
            Assert.Contains(trials, t => t.Proposal.Attribute == attribute && t.Proposal.Parents[0] == only);
            Assert.Equal(0, strategy.Feedback.Penalty(attribute) - stats.Failures.Values.Sum() + (0.5 * stats.Improved));
        }
    }
}
