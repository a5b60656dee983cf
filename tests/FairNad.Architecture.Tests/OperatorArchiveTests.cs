using FairNad.Architecture.Transforms;
using FairNad.Tests.Shared;

namespace FairNad.Architecture.Tests;

/// <summary>The operator archive (entries beside sources, costs, tamper checks) and the custom_operator transform.</summary>
public sealed class OperatorArchiveTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "fairnad-archive-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    private static readonly string Ghost = OperatorSources.Hash(WrittenOperators.Ghost);

    private static OperatorEntry Entry(string reference, string candidate = "c0ffee") =>
        new(reference, "GhostModule", "the contract", "operator.feature-extraction.ghost", "run-a", candidate, OperatorEntry.GeneratedLicence,
            [new OperatorCost(8, 16, 2, 28, 28, 1234, 56789)]);

    private OperatorArchive Archive()
    {
        var archive = new OperatorArchive(_directory);
        archive.Store.Put(WrittenOperators.Ghost);
        return archive;
    }

    [Fact]
    public void ToJson_Read_RoundTripInTheDocumentedFieldOrder()
    {
        var entry = Entry(Ghost);

        var json = entry.ToJson();
        var read = OperatorEntry.Read(json, "x.json");

        Assert.Equal(entry with { Costs = [] }, read with { Costs = [] });
        Assert.Equal(entry.Costs, read.Costs);
        Assert.Equal(json, read.ToJson());
        var order = new[] { "format", "reference", "className", "contract", "attribute", "run", "candidate", "licence", "costs" }
            .Select(f => json.IndexOf($"\"{f}\"", StringComparison.Ordinal)).ToList();
        Assert.Equal(order.Order(), order);
        Assert.Contains("\"format\": \"fairnad-operator-1\"", json, StringComparison.Ordinal);
        Assert.EndsWith("}\n", json, StringComparison.Ordinal);
    }

    [Fact]
    public void Add_SecondIntroduction_FirstWinsAndIsNotOverwritten()
    {
        var archive = Archive();

        Assert.True(archive.Add(Entry(Ghost, "first")));
        Assert.False(archive.Add(Entry(Ghost, "second")));

        Assert.Equal("first", archive.Get(Ghost).Candidate);
        Assert.Equal([Ghost], archive.References());
        Assert.Equal([Entry(Ghost, "first").ToJson()], archive.Entries().Select(e => e.ToJson()));
        Assert.False(File.Exists(archive.EntryPath(Ghost) + ".tmp"));
    }

    [Fact]
    public void Add_SourceNotInTheArchive_Refused()
    {
        var archive = new OperatorArchive(_directory);

        var e = Assert.Throws<InvalidDataException>(() => archive.Add(Entry(Ghost)));

        Assert.Contains("not in the store", e.Message, StringComparison.Ordinal);
        Assert.False(archive.Contains(Ghost));
    }

    [Fact]
    public void Get_TamperedSource_RefusedNamingTheFile()
    {
        var archive = Archive();
        archive.Add(Entry(Ghost));
        File.AppendAllText(archive.SourcePath(Ghost), "// edited by hand\n");

        var e = Assert.Throws<InvalidDataException>(() => archive.Get(Ghost));

        Assert.Contains(archive.SourcePath(Ghost), e.Message, StringComparison.Ordinal);
        Assert.Contains("the file was changed", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"className\": \"GhostModule\",", "className")]
    [InlineData("\"format\": \"fairnad-operator-1\"", "format")]
    [InlineData("\"costs\": [", "costs")]
    public void Get_BrokenEntry_ErrorNamesFileAndField(string replace, string field)
    {
        var archive = Archive();
        archive.Add(Entry(Ghost));
        var path = archive.EntryPath(Ghost);
        var text = File.ReadAllText(path);
        var broken = field == "format" ? text.Replace(replace, "\"format\": \"other-1\"", StringComparison.Ordinal)
            : field == "costs" ? text.Replace(replace, "\"costs\": [{\"inChannels\": -1}, ", StringComparison.Ordinal)
            : text.Replace(replace, string.Empty, StringComparison.Ordinal);
        File.WriteAllText(path, broken);

        var e = Assert.Throws<InvalidDataException>(() => archive.Get(Ghost));

        Assert.StartsWith(path + ":", e.Message, StringComparison.Ordinal);
        Assert.Contains($"'{field}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Get_EntryForAnotherReference_Refused()
    {
        var archive = Archive();
        var other = archive.Store.Put(WrittenOperators.GatedMlp);
        archive.Add(Entry(Ghost));
        File.Copy(archive.EntryPath(Ghost), archive.EntryPath(other));

        var e = Assert.Throws<InvalidDataException>(() => archive.Get(other));

        Assert.Contains("'reference'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MeasuredCosts_AbsentThenWritten_NotMeasuredThenTheFile()
    {
        var archive = Archive();
        var entry = Entry(Ghost) with { Costs = [] };
        archive.Add(entry);

        Assert.Null(archive.MeasuredCosts(Ghost));
        Assert.Equal("not measured", OperatorArchive.DescribeCosts(archive.CostsOf(entry)));

        File.WriteAllText(archive.CostsPath(Ghost), $$"""
            {"format":"fairnad-operator-costs-1","reference":"{{Ghost}}","costs":[{"inChannels":8,"outChannels":8,"stride":1,"height":14,"width":14,"parameters":120,"macs":23520}]}
            """);

        Assert.Equal([new OperatorCost(8, 8, 1, 14, 14, 120, 23520)], archive.CostsOf(entry));
        Assert.Equal("8 -> 8 channels, stride 1, 14 x 14: 120 parameters, 23,520 MACs", OperatorArchive.DescribeCosts(archive.CostsOf(entry)));
        Assert.Equal([Ghost], archive.References());
    }

    [Fact]
    public void MeasuredCosts_ForAnotherOperator_RefusedNamingTheFile()
    {
        var archive = Archive();
        File.WriteAllText(archive.CostsPath(Ghost), """{"format":"fairnad-operator-costs-1","reference":"sha256:00","costs":[]}""");

        var e = Assert.Throws<InvalidDataException>(() => archive.MeasuredCosts(Ghost));

        Assert.Contains(archive.CostsPath(Ghost), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ClassName_WrittenOperators_ThePublicModuleClass()
    {
        Assert.Equal("GhostModule", OperatorArchive.ClassName(WrittenOperators.Ghost));
        Assert.Equal("GatedChannelMlp", OperatorArchive.ClassName(WrittenOperators.GatedMlp));
        Assert.Null(OperatorArchive.ClassName("public static class Helper { }"));
    }

    [Fact]
    public void CustomOperator_Resnet_ReplacesTheFirstSpatialConvolutionKeepingIdOutAndStride()
    {
        var parent = ReferenceArchitectures.Get("resnet");
        var target = parent.Block.Nodes.First(n => n.Op == "conv" && (n.Params.TryGetValue("kernel", out var k) ? k.Number : 3) > 1);

        var result = SpecTransforms.Apply(SpecTransforms.CustomOperatorTransform, parent, new Dictionary<string, ParamValue> { ["source"] = Ghost });

        var replaced = result.Spec.Block.Nodes.Single(n => n.Id == target.Id);
        Assert.Equal(("custom", Ghost), (replaced.Op, replaced.Params["source"].Text));
        Assert.Equal(target.Inputs, replaced.Inputs);
        Assert.Equal(target.Params.GetValueOrDefault("out"), replaced.Params.GetValueOrDefault("out"));
        Assert.Equal(parent.Block.Nodes.Select(n => n.Id), result.Spec.Block.Nodes.Select(n => n.Id));
        Assert.Equal([Ghost], OperatorSources.References(result.Spec));
        Assert.True(ArchitectureAnalyzer.Analyze(result.Spec).IsValid);
        Assert.Equal(ArchitectureAnalyzer.Analyze(parent).Stages.Select(s => (s.Width, s.Resolution)), ArchitectureAnalyzer.Analyze(result.Spec).Stages.Select(s => (s.Width, s.Resolution)));
        Assert.Equal(result.Spec.Id, SpecTransforms.Apply(SpecTransforms.CustomOperatorTransform, parent, new Dictionary<string, ParamValue> { ["source"] = Ghost }).Spec.Id);
        Assert.NotEqual(result.Spec.Id, SpecTransforms.Apply(SpecTransforms.CustomOperatorTransform, parent,
            new Dictionary<string, ParamValue> { ["source"] = OperatorSources.Hash(WrittenOperators.GatedMlp) }).Spec.Id);
    }

    [Fact]
    public void CustomOperator_EveryReference_ValidWhereItApplies()
    {
        var applied = 0;
        foreach (var name in ReferenceArchitectures.Names)
        {
            try
            {
                var result = SpecTransforms.Apply(SpecTransforms.CustomOperatorTransform, ReferenceArchitectures.Get(name), new Dictionary<string, ParamValue> { ["source"] = Ghost });
                Assert.True(ArchitectureAnalyzer.Analyze(result.Spec).IsValid);
                applied++;
            }
            catch (TransformNotApplicableException)
            {
            }
        }

        Assert.True(applied >= 3, $"applies to {applied} reference architectures");
    }

    [Theory]
    [InlineData("")]
    [InlineData("sha256:abc")]
    public void CustomOperator_NotAReference_ArgumentErrorNamingTheParameter(string source)
    {
        var e = Assert.Throws<ArgumentException>(() =>
            SpecTransforms.Apply(SpecTransforms.CustomOperatorTransform, ReferenceArchitectures.Get("resnet"), new Dictionary<string, ParamValue> { ["source"] = source }));

        Assert.Contains("'source'", e.Message, StringComparison.Ordinal);
    }
}
