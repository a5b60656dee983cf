using FairNad.Architecture;

namespace FairNad.Knowledge.Tests;

public sealed class AttributeTreeTests
{
    private static string Repository() => AppContext.BaseDirectory;

    private static string TreeFile => Path.Combine(Repository(), "knowledge", "attribute-tree.json");

    private static HashSet<string> References() =>
        Directory.GetFiles(Path.Combine(Repository(), "knowledge", "references"), "*.md").Select(f => Path.GetFileNameWithoutExtension(f)).ToHashSet(StringComparer.Ordinal);

    [Fact]
    public void Default_CuratedTree_ValidAgainstTemplateTransformsAndReferences()
    {
        var tree = AttributeTree.Default();

        Assert.Empty(tree.Validate(References()));
        Assert.Equal("curated", tree.Provenance.Method);
    }

    [Fact]
    public void Default_EveryPredefinedCategoryPopulatedAndMostRealised()
    {
        var tree = AttributeTree.Default();

        Assert.Equal(KnowledgeTemplate.Granularities.SelectMany(g => g.Categories).Select(c => c.Id), tree.Granularities.SelectMany(g => g.Categories).Select(c => c.Id));
        Assert.All(tree.Granularities.SelectMany(g => g.Categories), c => Assert.NotEmpty(c.Attributes));
        var attributes = tree.Attributes.Select(x => x.Attribute).ToList();
        Assert.True(attributes.Count >= 30);
        Assert.True(attributes.Count(a => a.Realisations.Count > 0) >= attributes.Count * 2 / 3);
        Assert.Contains(attributes, a => a.Realisations.Count == 0);
    }

    [Fact]
    public void CommittedFile_IsInCanonicalForm()
    {
        var text = File.ReadAllText(TreeFile);

        Assert.Equal(text, AttributeTree.Read(text, TreeFile).Write());
    }

    [Fact]
    public void Realisation_SqueezeExcitation_AppliesToResnet()
    {
        var attribute = AttributeTree.Default().Find("block.recalibration.squeeze-excitation")!;

        var result = attribute.Realisations[0].Apply(ReferenceArchitectures.Get("resnet"));

        Assert.Contains(result.Spec.Block.Nodes, n => n.Op == "se");
    }

    [Fact]
    public void Validate_BrokenTree_ReportsEveryProblem()
    {
        var tree = AttributeTree.Default();
        var operatorLevel = tree.Granularities[0];
        var features = operatorLevel.Categories[0];
        var first = features.Attributes[0];
        var broken = features with
        {
            Attributes =
            [
                first,
                first with { Name = "copy" },
                first with { Id = "block.wrong-prefix", Effect = "speed", References = ["lenet"] },
                first with { Id = "operator.feature-extraction.teleport", Realisations = [new Realisation("teleport", new Dictionary<string, ParamValue>())] },
                first with { Id = "operator.feature-extraction.bad-param", Realisations = [new Realisation("larger_kernel", new Dictionary<string, ParamValue> { ["size"] = 3 })] },
            ],
        };
        var emptied = operatorLevel.Categories[1] with { Attributes = [] };
        var tampered = tree with { Granularities = [operatorLevel with { Categories = [broken, emptied, operatorLevel.Categories[2]] }, .. tree.Granularities.Skip(1)] };

        var problems = tampered.Validate(References());

        Assert.Contains($"attribute id {first.Id} is used twice", problems);
        Assert.Contains("attribute block.wrong-prefix does not start with its category id operator.feature-extraction.", problems);
        Assert.Contains(problems, p => p.Contains("effect 'speed' is not one of", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("reference 'lenet' has no description", StringComparison.Ordinal));
        Assert.Contains("attribute operator.feature-extraction.teleport: unknown transform 'teleport'", problems);
        Assert.Contains(problems, p => p.Contains("has no parameter 'size'", StringComparison.Ordinal));
        Assert.Contains("category operator.normalisation is empty", problems);
    }

    [Fact]
    public void Read_MissingField_ErrorNamesFileAndPath()
    {
        var text = File.ReadAllText(TreeFile).Replace("\"effect\": \"efficiency\",", string.Empty);

        var error = Assert.Throws<KnowledgeFormatException>(() => AttributeTree.Read(text, "tree.json"));

        Assert.StartsWith("tree.json: $.granularities[0].categories[0].attributes[0].effect: missing", error.Message);
    }

    [Fact]
    public void Stats_Default_CountsEveryCategory()
    {
        var stats = AttributeTree.Default().Stats();

        Assert.Contains("block.recalibration", stats);
        Assert.Contains("realised by the operator library", stats);
    }
}

public sealed class ReferenceDescriptionTests
{
    private static string Folder() => Path.Combine(AppContext.BaseDirectory, "knowledge", "references");

    public static TheoryData<string> Files => new(Directory.GetFiles(Folder(), "*.md").Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal));

    [Fact]
    public void Folder_CoversTheRequiredModels()
    {
        string[] required = ["resnet", "resnext", "densenet", "inception", "senet", "mobilenetv2", "shufflenetv2", "efficientnet", "convnext", "vit", "swin", "mlp-mixer", "efficientformer", "mobilevit", "efficientvit"];

        var missing = required.Where(r => !File.Exists(Path.Combine(Folder(), r + ".md"))).ToList();

        Assert.True(missing.Count == 0, "missing: " + string.Join(", ", missing));
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Description_FollowsTheStructureAndTemplateCategories(string file)
    {
        var lines = File.ReadAllLines(Path.Combine(Folder(), file));
        var categories = KnowledgeTemplate.Granularities.SelectMany(g => g.Categories).Select(c => c.Name.ToLowerInvariant()).ToList();

        Assert.StartsWith("# ", lines[0]);
        Assert.Contains(lines, l => l.StartsWith("- Reference: ", StringComparison.Ordinal));
        Assert.Contains("## Summary", lines);
        var bullets = lines.SkipWhile(l => l != "## Design choices").Skip(1).Where(l => l.StartsWith("- ", StringComparison.Ordinal)).ToList();
        Assert.InRange(bullets.Count, 5, 9);
        Assert.All(bullets, b => Assert.Contains(categories, c => b.StartsWith("- " + c + ":", StringComparison.Ordinal)));
        Assert.All(lines, l => Assert.True(l.All(ch => ch < 128), $"{file}: non-ASCII in '{l}'"));
    }
}

public sealed class NeutralReferenceTests
{
    private static string Sorted() => Path.Combine(AppContext.BaseDirectory, "knowledge", "references");

    private static string Neutral() => Path.Combine(Sorted(), "neutral");

    public static TheoryData<string> Files => new(Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "knowledge", "references"), "*.md").Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal));

    [Theory]
    [MemberData(nameof(Files))]
    public void NeutralForm_EveryReference_ProseWithSourceAndNoTemplateTerms(string file)
    {
        var path = Path.Combine(Neutral(), file);
        Assert.True(File.Exists(path), $"{file} has no neutral form in knowledge/references/neutral");
        var lines = File.ReadAllLines(path);
        var sorted = File.ReadAllLines(Path.Combine(Sorted(), file));
        var text = string.Join('\n', lines).ToLowerInvariant();

        Assert.StartsWith("# ", lines[0]);
        var source = Assert.Single(lines, l => l.StartsWith("Source: ", StringComparison.Ordinal));
        Assert.Contains("https://arxiv.org/abs/", source);
        // The paper's title, as the pre-sorted form cites it.
        var title = sorted.Single(l => l.StartsWith("- Reference: ", StringComparison.Ordinal)).Split('"')[1];
        Assert.Contains($"\"{title}\"", source);
        Assert.DoesNotContain(lines, l => l.StartsWith("## ", StringComparison.Ordinal) || l.StartsWith("- ", StringComparison.Ordinal));
        // Category names of more than one word are template terms ("normalisation" alone is the paper's word too).
        foreach (var category in KnowledgeTemplate.Granularities.SelectMany(g => g.Categories).Where(c => c.Name.Contains(' ', StringComparison.Ordinal)))
        {
            Assert.DoesNotContain(category.Name.ToLowerInvariant(), text);
            Assert.DoesNotContain(category.Id, text);
        }

        Assert.InRange(lines.Count(l => l.Length > 0 && !l.StartsWith('#') && !l.StartsWith("Source: ", StringComparison.Ordinal)), 2, 5);
        Assert.All(lines, l => Assert.True(l.All(ch => ch < 128), $"{file}: non-ASCII in '{l}'"));
    }
}
