//! The words the shell shows outside the page (tray menu, notifications),
//! in English and Russian like the UI's own catalogues. `{name}` and `{n}`
//! are filled in by [`fill`].

use crate::os::Lang;

/// One piece of text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Text {
    Show,
    Hide,
    Status,
    Available,
    Away,
    Busy,
    Offline,
    DoNotDisturb,
    Answer,
    Decline,
    HangUp,
    Quit,
    NoAccount,
    Registered,
    Registering,
    NotRegistered,
    RegistrationFailed,
    Local,
    InCall,
    MissedCalls,
    IncomingCall,
    IsCalling,
    MissedCall,
    MessageFrom,
}

impl Text {
    /// Every text, for the test that each has both languages.
    #[cfg(test)]
    pub(crate) const ALL: [Text; 24] = [
        Text::Show,
        Text::Hide,
        Text::Status,
        Text::Available,
        Text::Away,
        Text::Busy,
        Text::Offline,
        Text::DoNotDisturb,
        Text::Answer,
        Text::Decline,
        Text::HangUp,
        Text::Quit,
        Text::NoAccount,
        Text::Registered,
        Text::Registering,
        Text::NotRegistered,
        Text::RegistrationFailed,
        Text::Local,
        Text::InCall,
        Text::MissedCalls,
        Text::IncomingCall,
        Text::IsCalling,
        Text::MissedCall,
        Text::MessageFrom,
    ];
}

/// `text` in `lang`.
pub(crate) fn tr(lang: Lang, text: Text) -> &'static str {
    use Text::*;
    match lang {
        Lang::En => match text {
            Show => "Show Parley",
            Hide => "Hide Parley",
            Status => "My status",
            Available => "Available",
            Away => "Away",
            Busy => "Busy",
            Offline => "Appear offline",
            DoNotDisturb => "Do not disturb",
            Answer => "Answer",
            Decline => "Decline",
            HangUp => "Hang up",
            Quit => "Quit Parley",
            NoAccount => "No account",
            Registered => "registered",
            Registering => "registering…",
            NotRegistered => "not registered",
            RegistrationFailed => "registration failed",
            Local => "direct calls only",
            InCall => "In a call",
            MissedCalls => "Missed calls: {n}",
            IncomingCall => "Incoming call",
            IsCalling => "{name} is calling",
            MissedCall => "Missed call from {name}",
            MessageFrom => "Message from {name}",
        },
        Lang::Ru => match text {
            Show => "Показать Parley",
            Hide => "Скрыть Parley",
            Status => "Мой статус",
            Available => "В сети",
            Away => "Отошёл",
            Busy => "Занят",
            Offline => "Невидимка",
            DoNotDisturb => "Не беспокоить",
            Answer => "Ответить",
            Decline => "Отклонить",
            HangUp => "Завершить звонок",
            Quit => "Выйти из Parley",
            NoAccount => "Нет учётной записи",
            Registered => "зарегистрирован",
            Registering => "регистрация…",
            NotRegistered => "не зарегистрирован",
            RegistrationFailed => "ошибка регистрации",
            Local => "только прямые звонки",
            InCall => "Идёт звонок",
            MissedCalls => "Пропущенные звонки: {n}",
            IncomingCall => "Входящий звонок",
            IsCalling => "{name} звонит",
            MissedCall => "Пропущенный звонок от {name}",
            MessageFrom => "Сообщение от {name}",
        },
    }
}

/// `text` in `lang` with `{name}` and `{n}` filled in.
pub(crate) fn fill(lang: Lang, text: Text, name: &str, n: u32) -> String {
    tr(lang, text)
        .replace("{name}", name)
        .replace("{n}", &n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_exists_in_both_languages_with_the_same_placeholders() {
        for t in Text::ALL {
            let (en, ru) = (tr(Lang::En, t), tr(Lang::Ru, t));
            assert!(!en.is_empty() && !ru.is_empty(), "{t:?}");
            assert_ne!(en, ru, "{t:?} is not translated");
            for p in ["{name}", "{n}"] {
                assert_eq!(en.contains(p), ru.contains(p), "{t:?} {p}");
            }
        }
        assert_eq!(fill(Lang::Ru, Text::IsCalling, "Боб", 0), "Боб звонит");
        assert_eq!(fill(Lang::En, Text::MissedCalls, "", 3), "Missed calls: 3");
    }
}
