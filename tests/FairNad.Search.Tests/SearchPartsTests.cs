using FairNad.Architecture;
using FairNad.Knowledge;

namespace FairNad.Search.Tests;

public sealed class FairIdeaSamplerTests
{
    /// <summary>A tree with one category of one attribute and one category of six, so level-by-level uniform sampling would be unfair.</summary>
    private static AttributeTree Lopsided()
    {
        AttributeNode A(string id) => new(id, id, "d", "accuracy", [], []);
        return new AttributeTree(1, new Provenance("test", "t", null, null),
        [
            new GranularityNode("g", "G",
            [
                new CategoryNode("g.small", "Small", [A("g.small.only")]),
                new CategoryNode("g.large", "Large", [.. Enumerable.Range(0, 6).Select(i => A($"g.large.a{i}"))]),
            ]),
        ]);
    }

    [Fact]
    public void Next_LopsidedTree_EveryAttributeTriedEquallyOften()
    {
        var sampler = new FairIdeaSampler(Lopsided(), seed: 1);

        for (var i = 0; i < 70; i++)
        {
            sampler.Next();
        }

        Assert.Equal(7, sampler.Tries.Count);
        Assert.All(sampler.Tries.Values, t => Assert.Equal(10, t));
    }

    [Fact]
    public void Next_SameSeed_SameSequenceOtherSeedDiffers()
    {
        string[] Run(int seed)
        {
            var sampler = new FairIdeaSampler(AttributeTree.Default(), seed);
            return Enumerable.Range(0, 30).Select(_ => sampler.Next().Attribute.Id).ToArray();
        }

        Assert.Equal(Run(5), Run(5));
        Assert.NotEqual(Run(5), Run(6));
    }

    [Fact]
    public void Next_PreferEfficiency_OnlyEfficiencyAttributesWhileAnyExist()
    {
        var sampler = new FairIdeaSampler(AttributeTree.Default(), 3);

        var picks = Enumerable.Range(0, 10).Select(_ => sampler.Next(a => a.Effect == "efficiency").Attribute).ToList();

        Assert.All(picks, a => Assert.Equal("efficiency", a.Effect));
        Assert.Equal(10, picks.Select(a => a.Id).Distinct().Count());
    }

    [Fact]
    public void Constructor_OnlyRealisable_NeverPicksAnLlmOnlyAttribute()
    {
        var sampler = new FairIdeaSampler(AttributeTree.Default(), 3, a => a.Realisations.Count > 0);

        var picks = Enumerable.Range(0, 60).Select(_ => sampler.Next().Attribute).ToList();

        Assert.All(picks, a => Assert.NotEmpty(a.Realisations));
    }

    [Fact]
    public void Next_RealisedAttributes_ApplyToAReference()
    {
        var sampler = new FairIdeaSampler(AttributeTree.Default(), 9, a => a.Realisations.Count > 0);
        var applied = 0;
        for (var i = 0; i < 31; i++)
        {
            var attribute = sampler.Next().Attribute;
            foreach (var reference in ReferenceArchitectures.Names)
            {
                try
                {
                    attribute.Realisations[0].Apply(ReferenceArchitectures.Get(reference));
                    applied++;
                    break;
                }
                catch (FairNad.Architecture.Transforms.TransformNotApplicableException)
                {
                }
            }
        }

        Assert.Equal(31, applied);
    }
}

public sealed class ParetoFrontTests
{
    private static readonly Objectives[] Points =
    [
        new("a", 90, 100), new("b", 92, 200), new("c", 89, 150), new("d", 95, 400), new("e", 92, 250), new("f", 85, 50),
    ];

    [Fact]
    public void Front_MixedPoints_NonDominatedByCost()
    {
        Assert.Equal(["f", "a", "b", "d"], ParetoFront.Front(Points).Select(p => p.Id));
    }

    [Fact]
    public void Ranks_MixedPoints_SecondFrontAfterTheFirst()
    {
        var ranks = ParetoFront.Ranks(Points);

        Assert.Equal(0, ranks["a"]);
        Assert.Equal(1, ranks["c"]);
        Assert.Equal(1, ranks["e"]);
    }

    [Fact]
    public void WeakObjective_Extremes_CheapestIsWeakInAccuracyMostAccurateInCost()
    {
        var front = ParetoFront.Front(Points);

        Assert.Equal("accuracy", ParetoFront.WeakObjective(front[0], front));
        Assert.Equal("efficiency", ParetoFront.WeakObjective(front[^1], front));
    }
}

public sealed class FeedbackLedgerTests
{
    [Fact]
    public void Aggregates_PerAttributeAndCategory_WithFailures()
    {
        var ledger = new FeedbackLedger();
        ledger.Record(new("op.a", "op", true, 1.5, 1000, null));
        ledger.Record(new("op.a", "op", true, -0.5, -200, null));
        ledger.Record(new("op.a", "op", false, null, null, "invalid-spec"));
        ledger.Record(new("op.b", "op", false, null, null, "timeout"));

        var a = ledger.For("op.a")!;
        var category = Assert.Single(ledger.ByCategory());

        Assert.Equal((3, 2, 1, 0.5, 400.0), (a.Tries, a.Valid, a.Improved, a.MeanAccuracyDelta, a.MeanCostDelta));
        Assert.Equal(1, a.Failures["invalid-spec"]);
        Assert.Equal((4, 2), (category.Tries, category.Valid));
        Assert.Equal(new Dictionary<string, int> { ["invalid-spec"] = 1, ["timeout"] = 1 }, category.Failures);
        Assert.Contains("op.a: 3 tries, 2 valid, 1 improved accuracy, mean accuracy change +0.50 points, mean parameter change +400; failures: invalid-spec x1", ledger.PromptSummary("op.a", "op"));
        Assert.Equal("no earlier tries\n", ledger.PromptSummary("x", "y"));
    }
}
