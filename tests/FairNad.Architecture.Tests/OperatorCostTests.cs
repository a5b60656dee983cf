using FairNad.Tests.Shared;

namespace FairNad.Architecture.Tests;

/// <summary>Measured costs of LLM-written operators: the table (operators/&lt;hex&gt;.costs.json), the analysis with it, and width fitting.</summary>
public sealed class OperatorCostTests : IDisposable
{
    private static readonly string Ghost = OperatorSources.Hash(WrittenOperators.Ghost);
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "fairnad-costs-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    /// <summary>A synthetic operator with the cost of a bias-free 3 x 3 convolution from in to out channels, plus a scale per output channel.</summary>
    private static OperatorCost Conv3x3(int inChannels, int outChannels, int stride, int size) =>
        new(inChannels, outChannels, stride, size, size, (9L * inChannels * outChannels) + outChannels, 9L * inChannels * outChannels * ((size + stride - 1) / stride) * ((size + stride - 1) / stride));

    /// <summary>The table a worker's probes would give for <see cref="Conv3x3"/> at the spec's two applications (28 x 28 and 14 x 14).</summary>
    private static OperatorCostTable Probed()
    {
        var table = new OperatorCostTable();
        foreach (var size in new[] { 28, 14 })
        {
            foreach (var i in OperatorCostTable.ProbeChannels)
            {
                foreach (var o in OperatorCostTable.ProbeChannels)
                {
                    table.Add(Ghost, Conv3x3(i, o, 1, size));
                }
            }
        }

        return table;
    }

    [Fact]
    public void WriteLoad_Table_RoundTripsSortedAndDeterministic()
    {
        var table = new OperatorCostTable();
        table.Add(Ghost, Conv3x3(16, 16, 1, 14));
        table.Add(Ghost, Conv3x3(8, 8, 1, 28));

        table.Write(_directory);
        var read = OperatorCostTable.Load(_directory);

        var path = Path.Combine(_directory, Ghost[7..] + ".costs.json");
        Assert.Equal([Ghost], read.References);
        Assert.Equal(table.CostsOf(Ghost), read.CostsOf(Ghost));
        Assert.Equal(Conv3x3(8, 8, 1, 28), read.CostsOf(Ghost)[0]);
        Assert.Equal(OperatorCostTable.ToJson(Ghost, [Conv3x3(16, 16, 1, 14), Conv3x3(8, 8, 1, 28)]), File.ReadAllText(path));
        Assert.StartsWith("{\n  \"format\": \"fairnad-operator-costs-1\",\n  \"reference\": \"" + Ghost + "\",\n  \"costs\": [\n    {\n      \"inChannels\": 8,", File.ReadAllText(path), StringComparison.Ordinal);
        Assert.Contains("\"parameters\": 584,\n      \"macs\": 451584\n", File.ReadAllText(path), StringComparison.Ordinal);
    }

    [Fact]
    public void Write_TwoTables_MergedPerOperator()
    {
        var first = new OperatorCostTable();
        first.Add(Ghost, Conv3x3(8, 8, 1, 28));
        var second = new OperatorCostTable();
        second.Add(Ghost, Conv3x3(16, 16, 1, 14));

        first.Write(_directory);
        second.Write(_directory);

        Assert.Equal([Conv3x3(8, 8, 1, 28), Conv3x3(16, 16, 1, 14)], OperatorCostTable.Load(_directory).CostsOf(Ghost));
    }

    [Fact]
    public void Add_DifferentCountForSameApplication_Refused()
    {
        var table = new OperatorCostTable();
        table.Add(Ghost, Conv3x3(8, 8, 1, 28));
        table.Add(Ghost, Conv3x3(8, 8, 1, 28));

        var e = Assert.Throws<InvalidDataException>(() => table.Add(Ghost, Conv3x3(8, 8, 1, 28) with { Macs = 1 }));

        Assert.Contains("two measurements", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"macs\": 451584", "\"macs\": -1", "costs[0].macs")]
    [InlineData("\"stride\": 1", "\"stride\": \"one\"", "costs[0].stride")]
    [InlineData("\"format\": \"fairnad-operator-costs-1\"", "\"format\": \"other\"", "'format'")]
    [InlineData("\"reference\": \"sha256:", "\"reference\": \"md5:", "'reference'")]
    [InlineData("\"costs\": [", "\"costz\": [", "'costs'")]
    public void Load_MalformedFile_ErrorNamesFileAndField(string from, string to, string field)
    {
        var table = new OperatorCostTable();
        table.Add(Ghost, Conv3x3(8, 8, 1, 28));
        table.Write(_directory);
        var path = Path.Combine(_directory, OperatorCostTable.FileName(Ghost));
        var text = File.ReadAllText(path);
        Assert.Contains(from, text, StringComparison.Ordinal);
        File.WriteAllText(path, text.Replace(from, to, StringComparison.Ordinal));

        var e = Assert.Throws<InvalidDataException>(() => OperatorCostTable.Load(_directory));

        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains(field, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Analyze_WithMeasuredCosts_CountsThemAndNothingUnmeasured()
    {
        var spec = CustomOperatorSpecTests.WithOperator(Ghost);
        var table = new OperatorCostTable();
        table.Add(Ghost, Conv3x3(8, 8, 1, 28));
        table.Add(Ghost, Conv3x3(16, 16, 1, 14));

        var without = ArchitectureAnalyzer.Analyze(spec);
        var with = ArchitectureAnalyzer.Analyze(spec, table);

        Assert.True(with.IsValid, string.Join("; ", with.Errors));
        Assert.Empty(with.Unmeasured);
        Assert.Equal(without.Parameters + Conv3x3(8, 8, 1, 28).Parameters + Conv3x3(16, 16, 1, 14).Parameters, with.Parameters);
        Assert.Equal(without.Macs + Conv3x3(8, 8, 1, 28).Macs + Conv3x3(16, 16, 1, 14).Macs, with.Macs);
        Assert.Equal(
            [$"operator {Ghost} (inChannels 8, outChannels 8, stride 1, input 28 x 28)", $"operator {Ghost} (inChannels 16, outChannels 16, stride 1, input 14 x 14)"],
            without.Unmeasured);
    }

    [Fact]
    public void Analyze_CostMissingForOneApplication_NamesIt()
    {
        var table = new OperatorCostTable();
        table.Add(Ghost, Conv3x3(8, 8, 1, 28));

        var analysis = ArchitectureAnalyzer.Analyze(CustomOperatorSpecTests.WithOperator(Ghost), table);

        Assert.Equal([$"operator {Ghost} (inChannels 16, outChannels 16, stride 1, input 14 x 14)"], analysis.Unmeasured);
    }

    [Fact]
    public void Footprint_WithMeasuredCosts_CountsTheOperatorsParameters()
    {
        var spec = CustomOperatorSpecTests.WithOperator(Ghost);
        var table = new OperatorCostTable();
        table.Add(Ghost, Conv3x3(8, 8, 1, 28));
        table.Add(Ghost, Conv3x3(16, 16, 1, 14));

        Assert.Equal(TrainingMemory.Footprint(spec).Parameters + 584 + 2320, TrainingMemory.Footprint(spec, table).Parameters);
    }

    [Theory]
    [InlineData("resnet")]
    [InlineData("mobilenetv2")]
    [InlineData("vit")]
    public void Analyze_WithoutCustomNodes_TableChangesNothing(string name)
    {
        var spec = ReferenceArchitectures.Get(name, new InputSpec(3, 32, 10));

        var (plain, with) = (ArchitectureAnalyzer.Analyze(spec), ArchitectureAnalyzer.Analyze(spec, Probed()));

        Assert.Equal((plain.Parameters, plain.Macs, plain.PeakActivationBytes), (with.Parameters, with.Macs, with.PeakActivationBytes));
        Assert.Empty(with.Unmeasured);
    }

    [Fact]
    public void Estimates_BilinearOperator_ExactAtUnmeasuredWidths_NullWithoutCorners()
    {
        var estimates = Probed().Estimates;

        Assert.Equal(Conv3x3(8, 8, 1, 28), estimates.Find(Ghost, 8, 8, 1, 28, 28));
        Assert.Equal(Conv3x3(48, 24, 1, 14), estimates.Find(Ghost, 48, 24, 1, 14, 14));
        Assert.Null(estimates.Find(Ghost, 8, 8, 2, 28, 28));
        Assert.Null(Probed().Find(Ghost, 8, 8, 1, 28, 28));
    }

    [Fact]
    public void ScaleToBudget_CustomOperatorWithRealCost_NarrowerAndWithinBudgetAsCounted()
    {
        var spec = CustomOperatorSpecTests.WithOperator(Ghost) with
        {
            Stem = new StemSpec(StemKind.Conv, 64, 3, 1, "relu"),
            Stages = [new StageSpec(2, 64, DownsampleKind.None), new StageSpec(2, 128, DownsampleKind.StridedConv)],
        };
        var estimates = Probed().Estimates;
        const long Budget = 300_000;

        var blind = WidthScaler.ScaleToBudget(spec, Budget);
        var counted = WidthScaler.ScaleToBudget(spec, Budget, costs: estimates);

        // Counting the operator (about 9 in·out per block) takes widths down; without it the "fitted" spec is far over budget.
        Assert.True(counted.Spec.Stages[1].Width < blind.Spec.Stages[1].Width, $"{counted.Spec.Stages[1].Width} vs {blind.Spec.Stages[1].Width}");
        Assert.True(ArchitectureAnalyzer.Analyze(blind.Spec, estimates).Parameters > Budget);
        var analysis = ArchitectureAnalyzer.Analyze(counted.Spec, estimates);
        Assert.Empty(analysis.Unmeasured);
        Assert.Equal(counted.Parameters, analysis.Parameters);
        Assert.InRange(analysis.Parameters, Budget * 9 / 10, Budget);
    }
}
