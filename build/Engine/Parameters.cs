using System.Globalization;
using System.Reflection;
using System.Text.Json;

namespace FairNad.Build.Engine;

/// <summary>One [Parameter] member of a build.</summary>
internal sealed class BuildParameter(MemberInfo member, ParameterAttribute attribute)
{
    public MemberInfo Member { get; } = member;

    public string Name { get; } = attribute.Name ?? member.Name;

    public string Description { get; } = attribute.Description;

    public Type Type { get; } = member is FieldInfo f ? f.FieldType : ((PropertyInfo)member).PropertyType;

    /// <summary>Where the current value came from: command line, environment, a parameters file, or the default.</summary>
    public string Source { get; set; } = "default";

    public string CommandLineName => "--" + KebabCase(Name);

    public object? GetValue(object build) => Member is FieldInfo f ? f.GetValue(build) : ((PropertyInfo)Member).GetValue(build);

    public void SetValue(object build, object? value)
    {
        if (Member is FieldInfo field)
        {
            field.SetValue(build, value);
        }
        else
        {
            var property = (PropertyInfo)Member;
            var setter = property.GetSetMethod(nonPublic: true)
                ?? throw new BuildException($"parameter '{Name}' is a property without a setter");
            setter.Invoke(build, [value]);
        }
    }

    public static string KebabCase(string name)
    {
        var builder = new System.Text.StringBuilder();
        for (var i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0 && (char.IsLower(name[i - 1]) || (i + 1 < name.Length && char.IsLower(name[i + 1]))))
            {
                builder.Append('-');
            }

            builder.Append(char.ToLowerInvariant(name[i]));
        }

        return builder.ToString();
    }
}

/// <summary>Finds a build's parameters and gives each its value from the highest-priority source that has one.</summary>
internal static class ParameterResolver
{
    /// <summary>Options the engine itself understands; never parameters of the build.</summary>
    public static readonly string[] BuiltIn = ["help", "h", "plan", "skip", "target", "profile"];

    public static List<BuildParameter> Discover(Type buildType)
    {
        const BindingFlags flags = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;
        var members = new List<BuildParameter>();
        for (var type = buildType; type is not null && type != typeof(object); type = type.BaseType)
        {
            foreach (var member in type.GetMembers(flags | BindingFlags.DeclaredOnly).OrderBy(m => m.MetadataToken))
            {
                if (member is (FieldInfo or PropertyInfo) && member.GetCustomAttribute<ParameterAttribute>() is { } attribute
                    && !member.Name.Contains('<', StringComparison.Ordinal))
                {
                    members.Add(new BuildParameter(member, attribute));
                }
            }
        }

        var duplicate = members.GroupBy(p => CommandLine.Normalize(p.Name)).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new BuildException($"parameters {string.Join(" and ", duplicate.Select(p => p.Member.Name))} have the same name");
        }

        return members;
    }

    public static void Resolve(object build, List<BuildParameter> parameters, CommandLine commandLine, BuildContext context)
    {
        var known = parameters.Select(p => CommandLine.Normalize(p.Name)).Concat(BuiltIn).ToHashSet();
        var unknown = commandLine.Options.Select(o => o.Raw).FirstOrDefault(raw => !known.Contains(CommandLine.Normalize(raw)));
        if (unknown is not null)
        {
            throw new BuildException(
                $"unknown parameter '{unknown}'. Valid parameters: " +
                string.Join(", ", parameters.Select(p => p.CommandLineName).Concat(["--help", "--plan", "--skip", "--target", "--profile"])));
        }

        var files = LoadParameterFiles(context.RootDirectory, commandLine.Get("profile") ?? [], parameters);
        foreach (var parameter in parameters)
        {
            var key = CommandLine.Normalize(parameter.Name);
            if (commandLine.Get(parameter.Name) is { } values)
            {
                Assign(build, parameter, values, isBareFlag: values.Count == 0, "the command line");
                continue;
            }

            var variable = context.Environment.Where(e => CommandLine.Normalize(e.Key) == key).OrderBy(e => e.Key, StringComparer.Ordinal)
                .Select(e => (KeyValuePair<string, string>?)e).FirstOrDefault();
            if (variable is { } env)
            {
                Assign(build, parameter, SplitEnvironmentValue(parameter.Type, env.Value), isBareFlag: false, $"environment variable {env.Key}");
                continue;
            }

            if (files.TryGetValue(key, out var fromFile))
            {
                Assign(build, parameter, fromFile.Values, isBareFlag: false, fromFile.Source);
            }
        }
    }

    private static Dictionary<string, (List<string> Values, string Source)> LoadParameterFiles(
        AbsolutePath root, List<string> profiles, List<BuildParameter> parameters)
    {
        var result = new Dictionary<string, (List<string>, string)>();
        var names = parameters.ToDictionary(p => CommandLine.Normalize(p.Name));
        var files = new List<AbsolutePath> { root / ".nuke" / "parameters.json" };
        foreach (var profile in profiles)
        {
            var file = root / ".nuke" / $"parameters.{profile}.json";
            if (!file.Exists())
            {
                throw new BuildException($"profile '{profile}' has no file {file}");
            }

            files.Add(file);
        }

        foreach (var file in files.Where(f => f.Exists()))
        {
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(File.ReadAllText(file), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip });
            }
            catch (JsonException e)
            {
                throw new BuildException($"{file}: not valid JSON ({e.Message})");
            }

            using (document)
            {
                if (document.RootElement.ValueKind != JsonValueKind.Object)
                {
                    throw new BuildException($"{file}: expected a JSON object of parameter values");
                }

                foreach (var property in document.RootElement.EnumerateObject())
                {
                    if (property.Name.StartsWith('$'))
                    {
                        continue;
                    }

                    var key = CommandLine.Normalize(property.Name);
                    if (!names.ContainsKey(key))
                    {
                        throw new BuildException(
                            $"{file}: unknown parameter '{property.Name}'. Valid parameters: {string.Join(", ", parameters.Select(p => p.Name))}");
                    }

                    var values = property.Value.ValueKind == JsonValueKind.Array
                        ? property.Value.EnumerateArray().Select(JsonScalar).ToList()
                        : [JsonScalar(property.Value)];
                    result[key] = (values, $"{Path.GetFileName(file)} ({property.Name})");
                }
            }
        }

        return result;
    }

    private static string JsonScalar(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.String => element.GetString()!,
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        JsonValueKind.Number => element.GetRawText(),
        _ => throw new BuildException($"parameter values must be strings, numbers, booleans or arrays of them, not {element.ValueKind}"),
    };

    private static List<string> SplitEnvironmentValue(Type type, string value) =>
        type.IsArray ? value.Split([' ', ',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList() : [value];

    private static void Assign(object build, BuildParameter parameter, List<string> values, bool isBareFlag, string source)
    {
        try
        {
            parameter.SetValue(build, Convert(parameter.Type, values, isBareFlag, build));
            parameter.Source = source;
        }
        catch (FormatException e)
        {
            throw new BuildException($"parameter '{parameter.Name}' ({parameter.CommandLineName}) from {source}: {e.Message}");
        }
    }

    internal static object? Convert(Type type, List<string> values, bool isBareFlag, object build)
    {
        var underlying = Nullable.GetUnderlyingType(type) ?? type;
        if (underlying.IsArray)
        {
            var element = underlying.GetElementType()!;
            var array = Array.CreateInstance(element, values.Count);
            for (var i = 0; i < values.Count; i++)
            {
                array.SetValue(ConvertScalar(element, values[i], build), i);
            }

            return array;
        }

        if (isBareFlag)
        {
            return underlying == typeof(bool) ? true : throw new FormatException($"needs a value of type {Describe(underlying)}");
        }

        if (values.Count != 1)
        {
            throw new FormatException($"takes one value of type {Describe(underlying)}, got {values.Count}: {string.Join(" ", values)}");
        }

        return ConvertScalar(underlying, values[0], build);
    }

    private static object ConvertScalar(Type type, string text, object build)
    {
        var invariant = CultureInfo.InvariantCulture;
        object? result = type switch
        {
            _ when type == typeof(string) => text,
            _ when type == typeof(bool) => text.ToLowerInvariant() switch
            {
                "true" or "1" or "yes" or "on" => true,
                "false" or "0" or "no" or "off" => false,
                _ => null,
            },
            _ when type == typeof(int) => int.TryParse(text, NumberStyles.Integer, invariant, out var i) ? i : null,
            _ when type == typeof(long) => long.TryParse(text, NumberStyles.Integer, invariant, out var l) ? l : null,
            _ when type == typeof(double) => double.TryParse(text, NumberStyles.Float, invariant, out var d) ? d : null,
            _ when type == typeof(float) => float.TryParse(text, NumberStyles.Float, invariant, out var f) ? f : null,
            _ when type == typeof(decimal) => decimal.TryParse(text, NumberStyles.Float, invariant, out var m) ? m : null,
            _ when type == typeof(AbsolutePath) => Path.IsPathRooted(text)
                ? AbsolutePath.Create(text)
                : ((NukeBuild)build).RootDirectory / text,
            _ when type.IsEnum => Enum.GetNames(type).FirstOrDefault(n => CommandLine.Normalize(n) == CommandLine.Normalize(text))
                is { } name ? Enum.Parse(type, name) : null,
            _ => throw new BuildException($"parameters of type {type.Name} are not supported"),
        };

        if (result is null)
        {
            var valid = type.IsEnum ? $" (valid: {string.Join(", ", Enum.GetNames(type))})" : string.Empty;
            throw new FormatException($"'{text}' is not a valid {Describe(type)}{valid}");
        }

        return result;
    }

    internal static string Describe(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        return type switch
        {
            _ when type.IsArray => $"list of {Describe(type.GetElementType()!)}",
            _ when type == typeof(int) || type == typeof(long) => "integer",
            _ when type == typeof(double) || type == typeof(float) || type == typeof(decimal) => "number",
            _ when type == typeof(bool) => "boolean (true/false)",
            _ when type == typeof(AbsolutePath) => "path",
            _ when type.IsEnum => $"{type.Name}",
            _ => "string",
        };
    }

    /// <summary>How <c>--help</c> shows a current value.</summary>
    internal static string Format(object? value) => value switch
    {
        null => "(not set)",
        string s => s.Length == 0 ? "\"\"" : s,
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        System.Collections.IEnumerable e => string.Join(" ", e.Cast<object?>().Select(Format)),
        _ => value.ToString() ?? string.Empty,
    };
}
