namespace FairNad.Architecture.Tests;

public sealed class Nb201Tests
{
    private const string Example = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|";

    private static IEnumerable<string> AllCells() => Nb201.AllCells();

    private static string Uniform(string op) => Nb201.FormatEdges(Enumerable.Repeat(op, 6).ToArray());

    [Fact]
    public void ParseEdges_Example_ReadsSixEdgesInOrder()
    {
        Assert.Equal(["nor_conv_3x3", "nor_conv_3x3", "avg_pool_3x3", "skip_connect", "nor_conv_3x3", "skip_connect"], Nb201.ParseEdges(Example));
    }

    [Theory]
    [InlineData("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|", "3 node groups")]
    [InlineData("|conv_5x5~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|", "unknown operation 'conv_5x5'")]
    [InlineData("|nor_conv_3x3~1|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|", "must be written op~0")]
    public void ParseEdges_Malformed_ThrowsNamingTheProblem(string arch, string message)
    {
        var error = Assert.Throws<FormatException>(() => Nb201.ParseEdges(arch));
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void Analyze_AllConv3x3OnCifar10_MatchesPublishedLargestParameterCount()
    {
        // NAS-Bench-201 reports 1.531546 M parameters for the all-nor_conv_3x3 cell on CIFAR-10.
        var analysis = ArchitectureAnalyzer.Analyze(Nb201.ToSpec(Uniform("nor_conv_3x3"), Nb201.InputFor("cifar10")));

        Assert.True(analysis.IsValid, string.Join("; ", analysis.Errors));
        Assert.Equal(1_531_546, analysis.Parameters);
    }

    [Fact]
    public void Analyze_AllNoneOnCifar10_MatchesPublishedSmallestParameterCount()
    {
        // NAS-Bench-201 reports 0.073306 M parameters for the all-none cell on CIFAR-10 (stem, reductions, head only).
        var analysis = ArchitectureAnalyzer.Analyze(Nb201.ToSpec(Uniform("none"), Nb201.InputFor("cifar10")));

        Assert.Equal(73_306, analysis.Parameters);
    }

    [Fact]
    public void Analyze_Cifar100_HeadGrowsByNinetyClasses()
    {
        var cifar10 = ArchitectureAnalyzer.Analyze(Nb201.ToSpec(Example, Nb201.InputFor("cifar10"))).Parameters;
        var cifar100 = ArchitectureAnalyzer.Analyze(Nb201.ToSpec(Example, Nb201.InputFor("cifar100"))).Parameters;

        Assert.Equal(90 * (64 + 1), cifar100 - cifar10);
    }

    [Fact]
    public void AllCells_ParseAnalyzeAndRoundTrip()
    {
        var count = 0;
        long smallest = long.MaxValue, largest = 0;
        foreach (var arch in AllCells())
        {
            var spec = Nb201.ToSpec(arch, Nb201.InputFor("cifar10"));
            var analysis = ArchitectureAnalyzer.Analyze(spec);
            Assert.True(analysis.IsValid, $"{arch}: {string.Join("; ", analysis.Errors)}");
            Assert.Equal(arch, Nb201.FromSpec(spec));
            Assert.Equal(arch, Nb201.FromSpec(Canonicalizer.Canonicalize(spec)));
            smallest = Math.Min(smallest, analysis.Parameters);
            largest = Math.Max(largest, analysis.Parameters);
            count++;
        }

        Assert.Equal(15625, count);
        Assert.Equal(73_306, smallest);
        Assert.Equal(1_531_546, largest);
    }

    [Fact]
    public void UniqueString_AllCells_ReproducesPublished6466()
    {
        Assert.Equal(6466, AllCells().Select(Nb201.UniqueString).Distinct().Count());
    }

    [Fact]
    public void TopologyKey_AllCells_MergesZeroAndDeadBranchesInto4930Classes()
    {
        // Stricter than NB201's key: cells differing only in edges that carry zeros or feed nothing fall together.
        Assert.Equal(4930, AllCells().Select(Nb201.TopologyKey).Distinct().Count());
    }

    [Fact]
    public void TopologyKey_DeadBranch_IgnoresIt()
    {
        // Node 1 receives nothing, so the conv leaving it carries nothing either.
        var withDeadConv = "|none~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|none~1|none~2|";
        var plain = "|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|";

        Assert.Equal(Nb201.TopologyKey(plain), Nb201.TopologyKey(withDeadConv));
    }
}

public sealed class WidthScalerTests
{
    [Theory]
    [InlineData("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|", 1_500_000)]
    [InlineData("|nor_conv_1x1~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|nor_conv_3x3~1|nor_conv_1x1~2|", 1_500_000)]
    [InlineData("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|", 400_000)]
    public void ScaleToBudget_Nb201Cells_WithinTwoPercentBelowBudget(string arch, long budget)
    {
        var scaled = WidthScaler.ScaleToBudget(Nb201.ToSpec(arch, Nb201.InputFor("cifar100")), budget);

        Assert.InRange(scaled.Fill, 0.98, 1.0);
        Assert.Equal(scaled.Parameters, ArchitectureAnalyzer.Analyze(scaled.Spec).Parameters);
    }
}
