using System.Text.RegularExpressions;

namespace FairNad.Build.Tests.Docs;

/// <summary>
/// The README, the pages under docs/ and experiments/README.md link to each other and to repository files; these tests keep every such link
/// pointing at a file that exists and, with a #fragment, at a heading of that file (GitHub's anchor rules).
/// </summary>
public sealed class DocsLinkTests
{
    [Fact]
    public void Docs_EveryRelativeLink_ResolvesToAFileAndAnchor()
    {
        var root = RepositoryRoot();
        var (checkedLinks, broken) = DocsLinks.Check(root);

        Assert.True(checkedLinks > 0, "no relative link found in README.md and docs/*.md");
        Assert.True(broken.Count == 0, "broken links:\n" + string.Join('\n', broken));
    }

    [Fact]
    public void Docs_BrokenFileOrAnchor_IsReported()
    {
        var root = Directory.CreateTempSubdirectory("fairnad-docs-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(root, "docs"));
            File.WriteAllText(Path.Combine(root, "README.md"),
                "# Top\n\nSee [a](docs/a.md#the-fairnad-command), [b](docs/b.md), [c](docs/a.md#nothing), [d](#top), [e](https://example.org/x.md).\n\n" +
                "`[not a link](nowhere.md)`\n\n```\n[not a link](nowhere.md)\n```\n");
            File.WriteAllText(Path.Combine(root, "docs", "a.md"),
                "# A\n\n## The `fairnad` command\n\n[up](../README.md#top) [code](../src/Missing.cs) [same](#a)\n");

            var (checkedLinks, broken) = DocsLinks.Check(root);

            Assert.Equal(7, checkedLinks);
            Assert.Equal(
                ["README.md: docs/b.md: no file docs/b.md",
                 "README.md: docs/a.md#nothing: no heading #nothing in docs/a.md",
                 "docs/a.md: ../src/Missing.cs: no file src/Missing.cs"],
                broken);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Theory]
    [InlineData("Reproducibility: what holds bit for bit, and what does not", "reproducibility-what-holds-bit-for-bit-and-what-does-not")]
    [InlineData("The `fairnad` command", "the-fairnad-command")]
    [InlineData("Benchmark: all 15,625 NB201 cells", "benchmark-all-15625-nb201-cells")]
    [InlineData("Running, watching, resuming", "running-watching-resuming")]
    public void Anchor_FollowsGitHubRules(string heading, string anchor) => Assert.Equal(anchor, DocsLinks.Anchor(heading));

    [Fact]
    public void Readme_KeepsTheTestCommandThatCiRuns()
    {
        var root = RepositoryRoot();
        Assert.Contains("```sh\n./build.sh Test\n```", File.ReadAllText(Path.Combine(root, "README.md")), StringComparison.Ordinal);
        Assert.EndsWith("./build.sh Test\n", File.ReadAllText(Path.Combine(root, ".ci", "run")), StringComparison.Ordinal);
    }

    /// <summary>The checkout the tests were built from: the first folder above the output that holds FairNad.sln.</summary>
    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "FairNad.sln")))
                return directory.FullName;
        }

        throw new InvalidOperationException($"no FairNad.sln above {AppContext.BaseDirectory}");
    }
}

/// <summary>Finds the relative links of README.md, experiments/README.md and docs/*.md and reports those whose file or heading is missing.</summary>
internal static partial class DocsLinks
{
    public static (int Checked, List<string> Broken) Check(string root)
    {
        var files = new List<string> { Path.Combine(root, "README.md") };
        if (File.Exists(Path.Combine(root, "experiments", "README.md")))
            files.Add(Path.Combine(root, "experiments", "README.md"));
        var docs = Path.Combine(root, "docs");
        if (Directory.Exists(docs))
            files.AddRange(Directory.GetFiles(docs, "*.md").Order(StringComparer.Ordinal));

        var broken = new List<string>();
        var count = 0;
        foreach (var file in files)
        {
            var text = InlineCode().Replace(FencedCode().Replace(File.ReadAllText(file), ""), "");
            var from = Rel(root, file);
            foreach (Match link in Link().Matches(text))
            {
                var target = link.Groups[1].Value;
                if (Scheme().IsMatch(target))
                    continue;
                count++;
                var hash = target.IndexOf('#', StringComparison.Ordinal);
                var path = hash < 0 ? target : target[..hash];
                var anchor = hash < 0 ? "" : target[(hash + 1)..];
                var destination = path.Length == 0 ? file : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, Uri.UnescapeDataString(path)));
                if (!File.Exists(destination) && !Directory.Exists(destination))
                    broken.Add($"{from}: {target}: no file {Rel(root, destination)}");
                else if (anchor.Length > 0 && (!destination.EndsWith(".md", StringComparison.Ordinal) || !Anchors(destination).Contains(anchor)))
                    broken.Add($"{from}: {target}: no heading #{anchor} in {Rel(root, destination)}");
            }
        }

        return (count, broken);
    }

    /// <summary>GitHub's anchor for a heading: lower case, punctuation other than '-' and '_' removed, spaces to '-'.</summary>
    public static string Anchor(string heading) => NotAnchorCharacter().Replace(heading.ToLowerInvariant(), "").Replace(' ', '-');

    private static HashSet<string> Anchors(string file)
    {
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        foreach (Match heading in Heading().Matches(FencedCode().Replace(File.ReadAllText(file), "")))
        {
            var anchor = Anchor(heading.Groups[1].Value);
            var n = seen.GetValueOrDefault(anchor);
            seen[anchor] = n + 1;
            anchors.Add(n == 0 ? anchor : $"{anchor}-{n}");
        }

        return anchors;
    }

    private static string Rel(string root, string path) => Path.GetRelativePath(root, path).Replace('\\', '/');

    [GeneratedRegex(@"^```.*?^```[^\n]*$", RegexOptions.Singleline | RegexOptions.Multiline)]
    private static partial Regex FencedCode();

    [GeneratedRegex(@"`[^`\n]*`")]
    private static partial Regex InlineCode();

    [GeneratedRegex(@"\]\(\s*<?([^)\s>]+)>?(?:\s+""[^""]*"")?\s*\)")]
    private static partial Regex Link();

    [GeneratedRegex(@"^[a-z][a-z0-9+.-]*:", RegexOptions.IgnoreCase)]
    private static partial Regex Scheme();

    [GeneratedRegex(@"^#{1,6} +(.*?) *#*$", RegexOptions.Multiline)]
    private static partial Regex Heading();

    [GeneratedRegex(@"[^\w\- ]")]
    private static partial Regex NotAnchorCharacter();
}
