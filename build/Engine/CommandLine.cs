namespace FairNad.Build.Engine;

/// <summary>
/// <c>Target1 Target2 --name value1 value2 --flag</c>: leading bare words are targets; each <c>--option</c> takes the words
/// after it as its values. Names compare without case, dashes or underscores.
/// </summary>
internal sealed class CommandLine
{
    private CommandLine(IReadOnlyList<string> targets, IReadOnlyList<(string Raw, List<string> Values)> options)
    {
        Targets = targets;
        Options = options;
    }

    public IReadOnlyList<string> Targets { get; }

    public IReadOnlyList<(string Raw, List<string> Values)> Options { get; }

    /// <param name="isFlag">
    /// Options that are switches (<c>--plan</c>, boolean parameters): a word after one is its value only when it reads as a
    /// boolean, otherwise it is a target, so <c>--plan Test</c> plans Test.
    /// </param>
    public static CommandLine Parse(IReadOnlyList<string> args, Func<string, bool>? isFlag = null)
    {
        var targets = new List<string>();
        var options = new List<(string Raw, List<string> Values)>();
        foreach (var arg in args)
        {
            if (arg.StartsWith('-') && arg.Length > 1 && !double.TryParse(arg, System.Globalization.CultureInfo.InvariantCulture, out _))
            {
                var raw = arg;
                string? inlineValue = null;
                var equals = arg.IndexOf('=', StringComparison.Ordinal);
                if (equals > 0)
                {
                    raw = arg[..equals];
                    inlineValue = arg[(equals + 1)..];
                }

                options.Add((raw, inlineValue is null ? [] : [inlineValue]));
            }
            else if (options.Count == 0 || (isFlag?.Invoke(options[^1].Raw) == true && (options[^1].Values.Count > 0 || !IsBoolean(arg))))
            {
                targets.Add(arg);
            }
            else
            {
                options[^1].Values.Add(arg);
            }
        }

        return new CommandLine(targets, options);
    }

    private static bool IsBoolean(string word) =>
        word.ToLowerInvariant() is "true" or "false" or "1" or "0" or "yes" or "no" or "on" or "off";

    public static string Normalize(string name) =>
        new string(name.Where(c => c != '-' && c != '_').ToArray()).ToLowerInvariant();

    /// <summary>The values of an option (the last occurrence wins), or null when absent.</summary>
    public List<string>? Get(string name)
    {
        var key = Normalize(name);
        List<string>? found = null;
        foreach (var (raw, values) in Options)
        {
            if (Normalize(raw) == key)
            {
                found = values;
            }
        }

        return found;
    }

    public bool Has(string name) => Get(name) is not null;
}
