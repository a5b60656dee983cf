using System.Text;
using FairNad.Knowledge;
using FairNad.Llm;

namespace FairNad.Cli;

/// <summary>`fairnad knowledge extract`: the Extract stage.</summary>
internal static class KnowledgeCommands
{
    /// <summary>--llm-model, --llm-num-ctx and --llm-allow-model-change.</summary>
    public sealed record ModelChoice(string? Model = null, int? ContextLength = null, bool AllowModelChange = false);

    public static int Extract(string llm, string? host, double? timeout, string references, string outRoot, TextWriter output, ModelChoice? choice = null, double? stallTimeout = null)
    {
        InputChecks.NotAFile(outRoot, "--out", "a folder for the extracted tree");
        choice ??= new ModelChoice();
        var model = LlmSettings.ResolveModel(llm, choice.Model) ?? LlmSettings.DefaultModel;
        var folder = Path.Combine(outRoot, Slug(model));
        var settings = LlmSettings.Parse(llm, Path.Combine(folder, "transcripts"), host, model) with
        {
            TimeoutSeconds = LlmSettings.ResolveTimeout(timeout),
            ContextLength = choice.ContextLength is { } n ? LlmSettings.CheckContextLength(n, "--llm-num-ctx") : LlmSettings.DefaultContextLength,
            AllowModelChange = choice.AllowModelChange,
        };
        settings = settings with { StallTimeoutSeconds = LlmSettings.ResolveStallTimeout(stallTimeout, settings.TimeoutSeconds, "--llm-stall-timeout", timeout is null ? null : "--llm-timeout") };
        using var session = LlmSession.OpenAsync(settings, "Extract", log: m => output.WriteLine($"warning: {m}")).GetAwaiter().GetResult();
        InputChecks.RequireDirectory(references, "--references", "a folder of reference descriptions (*.md)");
        var result = KnowledgeExtractor.ExtractAsync(session, references, AttributeTree.Default()).GetAwaiter().GetResult();
        Directory.CreateDirectory(folder);
        var tree = Path.Combine(folder, "attribute-tree.json");
        File.WriteAllText(tree, result.Tree.Write(), new UTF8Encoding(false));
        File.WriteAllText(Path.Combine(folder, "merge-report.md"), result.Report, new UTF8Encoding(false));
        output.WriteLine($"wrote {tree} ({result.Tree.Attributes.Count()} attributes from {result.Proposed.Count} proposals) and merge-report.md");
        output.WriteLine($"model {session.Model.Name} {session.Model.Digest}");
        output.WriteLine(session.Ledger.Summary());
        var problems = result.Tree.Validate().Concat(result.Tree.Warnings());
        foreach (var problem in problems)
        {
            output.WriteLine($"warning: {problem}");
        }

        return 0;
    }

    private static string Slug(string model) => new(model.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' ? c : '-').ToArray());
}
